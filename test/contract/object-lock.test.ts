/**
 * Object Lock on Ceph RGW: blobs under legal hold or time-based retention are
 * written locked into a bucket created with Object Lock (small and multipart),
 * and a DELETE of the locked version fails; without Object Lock they are copied
 * with a warning, or failed with --require-immutability, which a run refuses
 * outright on a bucket without Object Lock (exit 2).
 */
import { describe, it, expect, beforeAll } from "vitest";
import { randomBytes } from "node:crypto";
import { CreateBucketCommand, DeleteObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { copyObject } from "../../shared/copy/copy-object.ts";
import { MemoryBlobSource } from "../fakes/blob-source.ts";
import { S3ObjectSink } from "../../shared/s3/object-sink.ts";
import { DEFAULT_TUNING, MiB, type Tuning } from "../../shared/limits.ts";
import type { CopyOptions } from "../../shared/copy/types.ts";
import { clients, newBucket, newContainer, serverEnv, uniqueName } from "../support/env.ts";
import { runCli } from "../support/cli.ts";

const TUNING: Tuning = { ...DEFAULT_TUNING, partSize: 5 * MiB, multipartThreshold: 5 * MiB, partConcurrency: 2, maxAttempts: 3 };
const DAY = 24 * 3600 * 1000;

describe("Object Lock", () => {
  const source = new MemoryBlobSource();
  const inOneDay = new Date(Date.now() + DAY).toISOString();
  const held = source.putBlob("c", "held.txt", randomBytes(2000), { legalHold: true });
  const retained = source.putBlob("c", "retained.txt", randomBytes(3000), { immutability: { mode: "Unlocked", until: inOneDay } });
  const big = source.putBlob("c", "big.bin", randomBytes(6 * MiB + 11), { immutability: { mode: "Unlocked", until: inOneDay }, legalHold: true });
  let locked: string;

  beforeAll(async () => {
    locked = uniqueName("lock");
    await clients.s3().send(new CreateBucketCommand({ Bucket: locked, ObjectLockEnabledForBucket: true }));
  });

  const copy = (blob: typeof held, bucket: string, options: Partial<CopyOptions> = {}) =>
    copyObject(source, new S3ObjectSink(async () => clients.s3(), { http: clients.s3Http() }), { container: "c", blob, bucket, key: blob.name }, { tuning: TUNING, ...options });

  it("writes legal hold and retention on a bucket with Object Lock, and a DELETE of the locked version fails", { timeout: 60_000 }, async () => {
    for (const blob of [held, retained, big]) {
      const r = await copy(blob, locked, { objectLockAvailable: true });
      expect(r, blob.name).toMatchObject({ outcome: "copied" });
      expect((r as { warnings: string[] }).warnings, blob.name).toEqual([]);
    }
    const s3 = clients.s3();
    const h1 = await s3.send(new HeadObjectCommand({ Bucket: locked, Key: "held.txt" }));
    expect(h1.ObjectLockLegalHoldStatus).toBe("ON");
    const h2 = await s3.send(new HeadObjectCommand({ Bucket: locked, Key: "retained.txt" }));
    expect(h2.ObjectLockMode).toBe("GOVERNANCE");
    expect(h2.ObjectLockRetainUntilDate?.toISOString().slice(0, 16)).toBe(inOneDay.slice(0, 16));
    const h3 = await s3.send(new HeadObjectCommand({ Bucket: locked, Key: "big.bin" }));
    expect(h3).toMatchObject({ ObjectLockMode: "GOVERNANCE", ObjectLockLegalHoldStatus: "ON" });
    for (const [key, head] of [["held.txt", h1], ["retained.txt", h2], ["big.bin", h3]] as const) {
      expect(head.VersionId, key).toBeTruthy();
      await expect(s3.send(new DeleteObjectCommand({ Bucket: locked, Key: key, VersionId: head.VersionId })), key).rejects.toSatisfy(
        (e) => (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 403,
      );
    }
  });

  it("without Object Lock: copies with a warning, or fails the blob with --require-immutability", { timeout: 60_000 }, async () => {
    const plain = await newBucket("nolock");
    const warned = await copy(held, plain);
    expect(warned).toMatchObject({ outcome: "copied" });
    expect((warned as { warnings: string[] }).warnings).toEqual(["the source is under legal hold: written without Object Lock (the destination bucket has none)"]);
    const refused = await copy(retained, plain, { requireImmutability: true });
    expect(refused).toMatchObject({ outcome: "failed", code: "immutability-required" });
    expect((refused as { reason: string }).reason).toMatch(/retention until .* and the destination bucket has no Object Lock/);
  });

  it("migrate run --require-immutability refuses a bucket without Object Lock (exit 2) and runs on one with it", { timeout: 60_000 }, async () => {
    const container = await newContainer("lock");
    await container.getBlockBlobClient("a.txt").upload("x", 1);
    const plain = await newBucket("nolock");
    const args = (bucket: string) => ["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}`, "--require-immutability", "--json"];
    const refused = await runCli(args(plain), serverEnv());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--require-immutability: destination bucket \S+ has no Object Lock/);
    const state = await newBucket("lockstate");
    const ok = await runCli(args(locked), { ...serverEnv(), STATE_BUCKET: state });
    expect(ok.code, ok.stderr.slice(-500)).toBe(0);
  });
});
