/** The copy engine on real servers: Azurite as the source, Ceph RGW as the destination. */
import { describe, it, expect, beforeAll } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import type { ContainerClient } from "@azure/storage-blob";
import { copyObject } from "../../shared/copy/copy-object.ts";
import { AzureBlobSource } from "../../shared/azure/blob-source.ts";
import { S3ObjectSink } from "../../shared/s3/object-sink.ts";
import { InstrumentedSink } from "../fakes/instrumented.ts";
import { ByteBudget } from "../../shared/copy/memory-budget.ts";
import { DEFAULT_TUNING, MiB, type Tuning } from "../../shared/limits.ts";
import type { CopyOptions, MultipartCheckpoint } from "../../shared/copy/types.ts";
import type { BlobSource, ObjectSink } from "../../shared/ports.ts";
import { clients, newBucket, newContainer } from "../support/env.ts";

const TUNING: Tuning = { ...DEFAULT_TUNING, partSize: 5 * MiB, multipartThreshold: 5 * MiB, partConcurrency: 3, maxAttempts: 3 };
const md5 = (b: Buffer) => createHash("md5").update(b).digest();

const HEADERS = {
  blobContentType: "application/x-migrated",
  blobContentEncoding: "identity",
  blobContentLanguage: "fr-FR",
  blobContentDisposition: 'attachment; filename="report.bin"',
  blobCacheControl: "max-age=3600",
};
const METADATA = { project: "hdh", owner: "data-ops", retention: "10y" };
const TAGS = { env: "prod", "data-class": "health", "cost centre": "a+b=c" };

let container: ContainerClient;
let bucket: string;
let source: BlobSource;
let sink: ObjectSink;

beforeAll(async () => {
  container = await newContainer("copy");
  bucket = await newBucket("copy");
  source = new AzureBlobSource(clients.blob());
  sink = new S3ObjectSink(async () => clients.s3(), { http: clients.s3Http() });
});

/** Uploads a blob: in one shot with Content-MD5, or in staged blocks without (as most tools do). */
async function uploadBlob(name: string, body: Buffer, options: { blocks?: number } = {}) {
  const blob = container.getBlockBlobClient(name);
  const common = { blobHTTPHeaders: HEADERS, metadata: METADATA, tags: TAGS };
  if (options.blocks) {
    const ids: string[] = [];
    const size = Math.ceil(body.length / options.blocks);
    for (let i = 0; i < options.blocks; i++) {
      const id = Buffer.from(`block-${String(i).padStart(6, "0")}`).toString("base64");
      const chunk = body.subarray(i * size, (i + 1) * size);
      await blob.stageBlock(id, chunk, chunk.length);
      ids.push(id);
    }
    await blob.commitBlockList(ids, common);
  } else {
    await blob.upload(body, body.length, { ...common, blobHTTPHeaders: { ...HEADERS, blobContentMD5: md5(body) } });
  }
  return (await source.stat(container.containerName, name))!;
}

async function copy(name: string, key: string, options: Partial<CopyOptions> = {}, through: ObjectSink = sink) {
  const blob = (await source.stat(container.containerName, name))!;
  return copyObject(source, through, { container: container.containerName, blob, bucket, key }, { tuning: TUNING, ...options });
}

async function download(key: string): Promise<Buffer> {
  const got = await clients.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

/** Every header, metadata key, marker and tag, and the bytes. */
async function expectExactCopy(key: string, body: Buffer, blobEtag: string) {
  const back = await download(key);
  expect(back.length).toBe(body.length);
  expect(back.equals(body)).toBe(true);
  const head = (await sink.head(bucket, key))!;
  expect(head).toMatchObject({
    size: body.length,
    contentType: HEADERS.blobContentType,
    contentEncoding: HEADERS.blobContentEncoding,
    contentLanguage: HEADERS.blobContentLanguage,
    contentDisposition: HEADERS.blobContentDisposition,
    cacheControl: HEADERS.blobCacheControl,
  });
  expect(head.metadata).toMatchObject({ ...METADATA, "azure-etag": blobEtag });
  expect(Date.parse(head.metadata["azure-last-modified"]!)).not.toBeNaN();
  expect(await sink.getTags(bucket, key)).toEqual(TAGS);
  return head;
}

describe("copyObject: Azurite -> Ceph RGW", () => {
  it.each([
    ["0 B", 0, 1],
    ["1 B", 1, 1],
    ["5 MiB - 1", 5 * MiB - 1, 1],
    ["5 MiB", 5 * MiB, 1],
    ["5 MiB + 1", 5 * MiB + 1, 2],
    ["several parts", 16 * MiB + 3, 4],
  ])("copies %s byte-exact with every header, metadata key and tag", async (label, size, parts) => {
    // Prepare
    const body = randomBytes(size);
    const name = `sizes/${label.replace(/\W+/g, "-")}.bin`;
    const blob = await uploadBlob(name, body);
    // Act
    const result = await copy(name, name);
    // Assess
    expect(result).toMatchObject({ outcome: "copied", size, parts, md5: md5(body).toString("hex"), warnings: [] });
    const head = await expectExactCopy(name, body, blob.etag);
    expect(head.metadata.md5chksum).toBe(md5(body).toString("base64"));
    if (size >= TUNING.multipartThreshold) expect(head.etag).toMatch(new RegExp(`-${parts}$`));
    else expect(head.etag).toBe(md5(body).toString("hex"));
  });

  it("grows the part size to stay under a lowered part cap", async () => {
    const body = randomBytes(21 * MiB);
    const blob = await uploadBlob("cap/grown.bin", body);
    const counted = new InstrumentedSink(sink);
    const result = await copy("cap/grown.bin", "cap/grown.bin", { tuning: { ...TUNING, maxParts: 3 } }, counted);
    expect(result).toMatchObject({ outcome: "copied", parts: 3 });
    expect(counted.calls.uploadPart).toBe(3);
    const head = await expectExactCopy("cap/grown.bin", body, blob.etag);
    expect(head.etag).toMatch(/-3$/);
  });

  it("verifies blobs uploaded in blocks without Content-MD5 by our own hashes", async () => {
    const big = randomBytes(12 * MiB + 11);
    const small = randomBytes(300 * 1024);
    const bigBlob = await uploadBlob("blocks/big.bin", big, { blocks: 4 });
    const smallBlob = await uploadBlob("blocks/small.bin", small, { blocks: 3 });
    expect(bigBlob.contentMd5).toBeUndefined();
    expect(smallBlob.contentMd5).toBeUndefined();

    // WHOLE_OBJECT_MD5=always: the ledger gets our MD5 of a multipart blob without Content-MD5 too.
    const bigResult = await copy("blocks/big.bin", "blocks/big.bin", { tuning: { ...TUNING, wholeObjectMd5: "always" } });
    const smallResult = await copy("blocks/small.bin", "blocks/small.bin");

    expect(bigResult).toMatchObject({ outcome: "copied", md5: md5(big).toString("hex"), verifiedBy: "part-md5+multipart-etag+size+own-md5" });
    expect(smallResult).toMatchObject({ outcome: "copied", md5: md5(small).toString("hex"), verifiedBy: "content-md5+etag" });
    await expectExactCopy("blocks/big.bin", big, bigBlob.etag);
    const smallHead = await expectExactCopy("blocks/small.bin", small, smallBlob.etag);
    // Known before the PUT, our own MD5 is stored for later checks.
    expect(smallHead.metadata.md5chksum).toBe(md5(small).toString("base64"));
  });

  it("reports a metadata name RGW rewrites (_ to -) as a warning naming the key", async () => {
    const body = randomBytes(100);
    await container.getBlockBlobClient("meta/underscore.bin").upload(body, body.length, { metadata: { owner_team: "ops" } });
    const result = await copy("meta/underscore.bin", "meta/underscore.bin");
    expect(result.outcome).toBe("copied");
    expect(result.outcome === "copied" && result.warnings).toEqual([`metadata "owner_team" stored as "owner-team" by the server`]);
  });

  it("fails the object when a part is corrupted on its way, leaving no object and no open upload", async () => {
    const body = randomBytes(11 * MiB);
    await uploadBlob("corrupt/c.bin", body);
    const tampering = new InstrumentedSink(sink, {
      tamperPart: (call, part) => {
        if (call.partNumber !== 2) return undefined;
        const bad = Buffer.from(part);
        bad[4242] = bad[4242]! ^ 0x55;
        return { body: bad, md5Base64: md5(bad).toString("base64") };
      },
    });
    const result = await copy("corrupt/c.bin", "corrupt/c.bin", {}, tampering);
    expect(result).toMatchObject({ outcome: "failed", code: "part-corrupted" });
    expect(tampering.calls.completeMultipart ?? 0).toBe(0);
    expect(tampering.calls.abortMultipart).toBe(1);
    expect(await sink.head(bucket, "corrupt/c.bin")).toBeUndefined();
    expect(await sink.listMultipartUploads(bucket, "corrupt/")).toEqual([]);
  });

  it("resumes an interrupted multipart copy, uploading only the missing parts, then skips it as unchanged", async () => {
    // Prepare: 5 parts; the deadline fires when part 2 starts uploading.
    const body = randomBytes(25 * MiB - 100);
    const blob = await uploadBlob("resume/r.bin", body);
    const ac = new AbortController();
    const first = new InstrumentedSink(sink, { before: (call) => void (call.op === "uploadPart" && call.partNumber === 2 && ac.abort()) });
    const saved: MultipartCheckpoint[] = [];
    // Act 1
    const interrupted = await copy("resume/r.bin", "resume/r.bin", { signal: ac.signal, onCheckpoint: async (cp) => void saved.push(cp) }, first);
    // Assess 1
    expect(interrupted.outcome).toBe("interrupted");
    const cp = (interrupted as { checkpoint: MultipartCheckpoint }).checkpoint;
    expect(cp.parts.length).toBeGreaterThanOrEqual(1);
    expect(cp.parts.length).toBeLessThan(5);
    expect(saved.at(-1)).toEqual(cp);
    expect(await sink.listMultipartUploads(bucket, "resume/")).toEqual([{ key: "resume/r.bin", uploadId: cp.uploadId, initiated: expect.any(String) }]);
    expect(await sink.head(bucket, "resume/r.bin")).toBeUndefined();
    // Act 2
    const second = new InstrumentedSink(sink);
    const budget = new ByteBudget(64 * MiB);
    const resumed = await copy("resume/r.bin", "resume/r.bin", { checkpoint: cp, memory: budget }, second);
    // Assess 2
    expect(resumed).toMatchObject({ outcome: "copied", parts: 5, md5: md5(body).toString("hex") });
    expect(second.calls.uploadPart).toBe(5 - cp.parts.length);
    expect(second.calls.createMultipart ?? 0).toBe(0);
    expect(budget.used).toBe(0);
    await expectExactCopy("resume/r.bin", body, blob.etag);
    expect(await sink.listMultipartUploads(bucket, "resume/")).toEqual([]);
    // Act 3: nothing changed
    const third = await copy("resume/r.bin", "resume/r.bin");
    expect(third).toMatchObject({ outcome: "skipped" });
  });

  it("never reads an archived blob", async () => {
    await uploadBlob("archive/a.bin", randomBytes(1000));
    await container.getBlobClient("archive/a.bin").setAccessTier("Archive");
    const result = await copy("archive/a.bin", "archive/a.bin");
    expect(result).toMatchObject({ outcome: "failed", code: "archived", reason: "archived: rehydrate first" });
    expect(await sink.head(bucket, "archive/a.bin")).toBeUndefined();
  });
});
