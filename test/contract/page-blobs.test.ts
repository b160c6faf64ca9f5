/**
 * Page and append blobs on Azurite, copied to Ceph RGW through the copy engine.
 * A sparse page blob is read through Get Page Ranges: the written pages are
 * downloaded, the gaps are zeros that never cross the network.
 */
import { describe, it, expect } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import { copyObject } from "../../shared/copy/copy-object.ts";
import { AzureBlobSource } from "../../shared/azure/blob-source.ts";
import { S3ObjectSink } from "../../shared/s3/object-sink.ts";
import { DEFAULT_TUNING, MiB, type Tuning } from "../../shared/limits.ts";
import { clients, newBucket, newContainer } from "../support/env.ts";
import type { BlobSource } from "../../shared/ports.ts";
import { getBytes } from "../reliability/support.ts";
import { withRetry } from "../../shared/retry.ts";

/** Seeding retries transport hiccups of the shared Azurite (the suite's clients have the SDK's own retries off). */
const seed = <T>(fn: () => Promise<T>) => withRetry(fn, { attempts: 5, baseMs: 100 });

const md5 = (b: Buffer | Uint8Array) => createHash("md5").update(b).digest("hex");

describe("page blobs", () => {
  for (const readMode of ["ranges", "stream"] as const) {
    it(`a sparse page blob is copied byte-exact with fewer bytes read than its size (multipart, read mode ${readMode})`, async () => {
      // Prepare: 16 MiB, two written islands (one across a part boundary), the rest never written.
      const container = await seed(() => newContainer("page"));
      const size = 16 * MiB;
      const page = container.getPageBlobClient("disk.vhd");
      await seed(() => page.create(size));
      const expected = Buffer.alloc(size);
      const islands: Array<[number, number]> = [
        [1 * MiB, 64 * 1024],
        [5 * MiB - 4096, 8192],
        [size - 512, 512],
      ];
      for (const [offset, length] of islands) {
        const data = randomBytes(length);
        await seed(() => page.uploadPages(data, offset, length));
        data.copy(expected, offset);
      }
      const bucket = await newBucket("page");
      const source = new AzureBlobSource(clients.blob());
      const entry = (await seed(() => source.listPage(container.containerName, {}))).entries[0]!;
      expect(entry).toMatchObject({ name: "disk.vhd", size, blobType: "PageBlob" });
      const tuning: Tuning = { ...DEFAULT_TUNING, multipartThreshold: 5 * MiB, partSize: 5 * MiB, readMode, maxAttempts: 3 };
      // Act
      const result = await copyObject(source, new S3ObjectSink(async () => clients.s3(), { http: clients.s3Http() }), { container: container.containerName, blob: entry, bucket, key: "disk.vhd" }, { tuning });
      // Assess
      expect(result).toMatchObject({ outcome: "copied", size });
      const written = islands.reduce((s, [, l]) => s + l, 0);
      expect(source.readStats.bytesDownloaded).toBe(written);
      expect(source.readStats.zeroBytes).toBe(size - written);
      expect(md5(await getBytes(clients.s3(), bucket, "disk.vhd"))).toBe(md5(expected));
    });
  }

  it("a small page blob (one PUT) and an append blob are copied byte-exact", async () => {
    const container = await seed(() => newContainer("kinds"));
    const page = container.getPageBlobClient("small.vhd");
    await seed(() => page.create(64 * 1024));
    const data = randomBytes(4096);
    await seed(() => page.uploadPages(data, 8192, 4096));
    const expectedPage = Buffer.alloc(64 * 1024);
    data.copy(expectedPage, 8192);
    const append = container.getAppendBlobClient("log.txt");
    await seed(() => append.create());
    const blocks = [randomBytes(1000), randomBytes(3000)];
    for (const b of blocks) await seed(() => append.appendBlock(b, b.length));
    const bucket = await newBucket("kinds");
    const source = new AzureBlobSource(clients.blob());
    const sink = new S3ObjectSink(async () => clients.s3(), { http: clients.s3Http() });
    const tuning: Tuning = { ...DEFAULT_TUNING, maxAttempts: 3 };
    for (const entry of (await seed(() => source.listPage(container.containerName, {}))).entries) {
      const result = await copyObject(source, sink, { container: container.containerName, blob: entry, bucket, key: entry.name }, { tuning });
      expect(result.outcome, entry.name).toBe("copied");
    }
    expect(source.readStats.bytesDownloaded).toBe(4096 + 4000);
    expect(md5(await getBytes(clients.s3(), bucket, "small.vhd"))).toBe(md5(expectedPage));
    expect(md5(await getBytes(clients.s3(), bucket, "log.txt"))).toBe(md5(Buffer.concat(blocks)));
  });
});

describe("append blobs that grow during their copy", () => {
  it("an append blob appended to during each attempt ends as source-changed after its retry; nothing is left at the destination", async () => {
    const container = await seed(() => newContainer("grow"));
    const append = container.getAppendBlobClient("grows.log");
    await seed(() => append.create());
    for (let i = 0; i < 3; i++) {
      const chunk = randomBytes(4 * MiB);
      await seed(() => append.appendBlock(chunk, chunk.length));
    }
    const bucket = await newBucket("grow");
    const real = new AzureBlobSource(clients.blob());
    // Every second read of the blob finds it appended to since the copy started (a log being written).
    let reads = 0;
    const growing: BlobSource = {
      listPage: (...args) => real.listPage(...args),
      stat: (...args) => real.stat(...args),
      read: async (...args) => {
        if (++reads % 2 === 0) await append.appendBlock("more\n", 5);
        return real.read(...args);
      },
    };
    const entry = (await seed(() => real.listPage(container.containerName, {}))).entries[0]!;
    expect(entry.blobType).toBe("AppendBlob");
    // A ranged read per part, so the blob grows between the parts of one attempt (one stream per blob reads one version).
    const tuning: Tuning = { ...DEFAULT_TUNING, multipartThreshold: 5 * MiB, partSize: 5 * MiB, partConcurrency: 1, maxAttempts: 2, readMode: "ranges" };
    const result = await copyObject(growing, new S3ObjectSink(async () => clients.s3(), { http: clients.s3Http() }), { container: container.containerName, blob: entry, bucket, key: "grows.log" }, { tuning });
    expect(result, JSON.stringify(result)).toMatchObject({ outcome: "failed", code: "source-changed" });
    expect(await new S3ObjectSink(async () => clients.s3(), { http: clients.s3Http() }).head(bucket, "grows.log")).toBeUndefined();
    expect(await new S3ObjectSink(async () => clients.s3(), { http: clients.s3Http() }).listMultipartUploads(bucket)).toEqual([]);
  });
});
