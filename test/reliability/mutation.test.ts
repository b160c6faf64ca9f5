/**
 * A blob overwritten while it is being copied is never written as a mixed
 * object: the destination holds exactly one version, or the object is
 * reported failed with code source-changed.
 */
import { describe, it, expect } from "vitest";
import { randomBytes } from "node:crypto";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import type { ContainerClient } from "@azure/storage-blob";
import { loadConfig } from "../../shared/config.ts";
import { buildDeps } from "../../shared/runtime/composition-root.ts";
import { silentLogger } from "../../shared/logger.ts";
import { driveRun, memoryTransport } from "../../shared/local/run.ts";
import { parseMessage, StartRequest } from "../../shared/messages.ts";
import type { BlobSource } from "../../shared/ports.ts";
import { clients, newBucket, newContainer, serverEnv } from "../support/env.ts";
import { getBytes, ledgerOf, md5, MiB, openUploads, SMALL_PARTS, upload } from "./support.ts";

type Writer = (name: string, offset: number) => boolean;

/** The real Azure source, with a hook that overwrites a blob in Azurite just before chosen reads. */
function mutatingSource(inner: BlobSource, container: ContainerClient, versions: Map<string, Buffer[]>, shouldWrite: Writer): BlobSource {
  return {
    listPage: (c, o) => inner.listPage(c, o),
    stat: (c, n) => inner.stat(c, n),
    read: async (c, name, range, etag, signal) => {
      if (shouldWrite(name, range.offset)) {
        const size = versions.get(name)![0]!.length;
        const next = randomBytes(size + 1 + (versions.get(name)!.length % 3));
        await upload(container, name, next);
        versions.get(name)!.push(next);
      }
      return inner.read(c, name, range, etag, signal);
    },
  };
}

describe("source blobs overwritten during their copy", () => {
  it("are copied as exactly one version, or failed as source-changed, never mixed", { timeout: 90_000 }, async () => {
    const container = await newContainer("mut");
    const bucket = await newBucket("mut");
    const versions = new Map<string, Buffer[]>();
    const seed = async (name: string, size: number) => {
      const body = randomBytes(size);
      await upload(container, name, body);
      versions.set(name, [body]);
    };
    await seed("once/multipart.bin", 12 * MiB + 7);
    await seed("always/multipart.bin", 11 * MiB + 3);
    await seed("once/small.bin", 300 * 1024);
    await seed("untouched.bin", 2 * MiB);
    const writtenOnce = new Set<string>();
    const shouldWrite: Writer = (name, offset) => {
      // Rewritten at every read of a later part: the copy can never finish on one version.
      if (name === "always/multipart.bin") return offset > 0;
      // Rewritten once, between the first part and the next (or before the only read).
      if ((name === "once/multipart.bin" && offset > 0) || name === "once/small.bin") {
        if (writtenOnce.has(name)) return false;
        writtenOnce.add(name);
        return true;
      }
      return false;
    };

    // One ranged read per part, so the overwrite lands between two reads of the same copy.
    const config = loadConfig({ ...serverEnv(), ...SMALL_PARTS, PART_CONCURRENCY: "1", READ_MODE: "ranges" });
    const transport = memoryTransport({ workerQueues: 1 });
    const deps = buildDeps(config, { bus: transport.bus, log: silentLogger });
    deps.source = mutatingSource(deps.source, container, versions, shouldWrite);
    const request = parseMessage(StartRequest, { v: 1, type: "start", runId: "mut", source: { container: container.containerName, prefix: "" }, destination: { bucket, prefix: "" } });
    const report = await driveRun(deps, transport, request, bucket);

    // Every hook really fired.
    expect(versions.get("once/multipart.bin")).toHaveLength(2);
    expect(versions.get("once/small.bin")).toHaveLength(2);
    expect(versions.get("always/multipart.bin")!.length).toBeGreaterThanOrEqual(3);

    const ledger = new Map((await ledgerOf(bucket, "mut")).map((e) => [e.key, e]));
    const s3 = clients.s3();
    for (const [name, bodies] of versions) {
      const entry = ledger.get(name)!;
      const known = bodies.map((b) => md5(b));
      const exists = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: name })).then(() => true, () => false);
      if (exists) expect(known, `${name}: the destination is none of the source's versions`).toContain(md5(await getBytes(s3, bucket, name)));
      if (entry.outcome === "copied") {
        expect(exists, name).toBe(true);
        expect(entry.md5, name).toBe(md5(await getBytes(s3, bucket, name)));
      } else {
        expect(entry, name).toMatchObject({ outcome: "failed", code: "source-changed" });
      }
    }
    // Changed once: copied again from the new version. Changed at every read: reported, not chased.
    expect(ledger.get("once/multipart.bin")).toMatchObject({ outcome: "copied", md5: md5(versions.get("once/multipart.bin")![1]!) });
    expect(ledger.get("once/small.bin")).toMatchObject({ outcome: "copied", md5: md5(versions.get("once/small.bin")![1]!) });
    expect(ledger.get("untouched.bin")).toMatchObject({ outcome: "copied", md5: md5(versions.get("untouched.bin")![0]!) });
    expect(ledger.get("always/multipart.bin")).toMatchObject({ outcome: "failed", code: "source-changed" });
    expect(report.failures).toEqual([{ key: "always/multipart.bin", reason: expect.stringMatching(/changed/) }]);
    expect(await openUploads(bucket)).toEqual([]);
  });
});
