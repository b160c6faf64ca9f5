/**
 * One contract for every BlobSource and every ObjectSink: the in-memory fakes
 * and the real adapters on Azurite and Ceph RGW must pass the same tests.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import type { BlobEntry, BlobSource, ObjectSink } from "../../shared/ports.ts";
import { MemoryBlobSource, type BlobProps } from "../fakes/blob-source.ts";
import { MemoryObjectSink } from "../fakes/object-sink.ts";
import { AzureBlobSource } from "../../shared/azure/blob-source.ts";
import { createBlobHttp } from "../../shared/clients.ts";
import { S3ObjectSink } from "../../shared/s3/object-sink.ts";
import { BlobArchivedError, SourceChangedError } from "../../shared/errors.ts";
import { classify } from "../../shared/retry.ts";
import { multipartEtag } from "../../shared/copy/verify.ts";
import { azureConfig, clients, newBucket, newContainer } from "../support/env.ts";
import { ODD_NAMES, utf8Order } from "../support/odd-names.ts";

const MiB = 1024 * 1024;
const md5 = (b: Buffer) => createHash("md5").update(b).digest();

async function drain(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

interface SourceFixture {
  source: BlobSource;
  container: string;
  /** Writes a blob (a new version if it exists); props as BlobProps. */
  write(name: string, body: Buffer, props?: BlobProps): Promise<void>;
  archive(name: string): Promise<void>;
}

interface SinkFixture {
  sink: ObjectSink;
  bucket: string;
}

function sourceContract(label: string, make: () => Promise<SourceFixture>) {
  describe(`BlobSource contract: ${label}`, () => {
    let f: SourceFixture;
    beforeAll(async () => {
      f = await make();
    });

    it("lists pages with a marker, with headers, metadata, tags and Content-MD5", async () => {
      // Prepare
      const bodies = Array.from({ length: 5 }, (_, i) => randomBytes(100 + i));
      for (const [i, b] of bodies.entries()) {
        await f.write(`list/${i}.bin`, b, { contentType: "application/x-test", cacheControl: "max-age=9", metadata: { idx: String(i) }, tags: { n: String(i) } });
      }
      // Act
      const seen: BlobEntry[] = [];
      let marker: string | undefined;
      let pages = 0;
      do {
        const page = await f.source.listPage(f.container, { prefix: "list/", marker, pageSize: 2 });
        seen.push(...page.entries);
        marker = page.nextMarker;
        pages++;
      } while (marker && pages < 10);
      // Assess
      expect(pages).toBe(3);
      expect(seen.map((e) => e.name)).toEqual(bodies.map((_, i) => `list/${i}.bin`));
      for (const [i, e] of seen.entries()) {
        expect(e.size).toBe(bodies[i]!.length);
        expect(e.contentMd5).toBe(md5(bodies[i]!).toString("hex"));
        expect(e.contentType).toBe("application/x-test");
        expect(e.cacheControl).toBe("max-age=9");
        expect(e.metadata).toEqual({ idx: String(i) });
        expect(e.tags).toEqual({ n: String(i) });
        expect(e.etag).not.toBe("");
        expect(Number.isNaN(Date.parse(e.lastModified))).toBe(false);
      }
    });

    it("stats a blob with its tags, and answers undefined for a missing one", async () => {
      const body = randomBytes(321);
      await f.write("stat/one.bin", body, { contentLanguage: "fr", contentDisposition: "inline", contentEncoding: "identity", metadata: { a: "1" }, tags: { t: "x y" } });
      const e = await f.source.stat(f.container, "stat/one.bin");
      expect(e).toMatchObject({ name: "stat/one.bin", size: 321, contentLanguage: "fr", contentDisposition: "inline", contentEncoding: "identity", metadata: { a: "1" }, tags: { t: "x y" } });
      expect(await f.source.stat(f.container, "stat/missing.bin")).toBeUndefined();
    });

    it("has no Content-MD5 for a blob uploaded in blocks", async () => {
      await f.write("blocks/b.bin", randomBytes(2000), { withMd5: false });
      const e = await f.source.stat(f.container, "blocks/b.bin");
      expect(e?.size).toBe(2000);
      expect(e?.contentMd5).toBeUndefined();
    });

    it("reads exact ranges pinned to the ETag, including the last byte and an empty blob", async () => {
      const body = randomBytes(3 * 1024 + 7);
      await f.write("read/r.bin", body);
      const e = (await f.source.stat(f.container, "read/r.bin"))!;
      expect((await drain(await f.source.read(f.container, "read/r.bin", { offset: 0, count: body.length }, e.etag))).equals(body)).toBe(true);
      expect((await drain(await f.source.read(f.container, "read/r.bin", { offset: 1000, count: 24 }, e.etag))).equals(body.subarray(1000, 1024))).toBe(true);
      expect((await drain(await f.source.read(f.container, "read/r.bin", { offset: body.length - 1, count: 1 }, e.etag))).equals(body.subarray(-1))).toBe(true);
      await f.write("read/empty.bin", Buffer.alloc(0));
      const empty = (await f.source.stat(f.container, "read/empty.bin"))!;
      expect((await drain(await f.source.read(f.container, "read/empty.bin", { offset: 0, count: 0 }, empty.etag))).length).toBe(0);
    });

    it("fails a read pinned to an old ETag with SourceChangedError", async () => {
      await f.write("changed/c.bin", randomBytes(100));
      const before = (await f.source.stat(f.container, "changed/c.bin"))!;
      await f.write("changed/c.bin", randomBytes(100));
      const err = await f.source.read(f.container, "changed/c.bin", { offset: 0, count: 10 }, before.etag).then(drain).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SourceChangedError);
      expect(classify(err)).toBe("source-changed");
    });

    it("shows archived blobs in the listing and refuses to read them with BlobArchivedError", async () => {
      await f.write("arch/a.bin", randomBytes(100));
      await f.archive("arch/a.bin");
      const page = await f.source.listPage(f.container, { prefix: "arch/" });
      expect(page.entries[0]?.accessTier).toBe("Archive");
      const err = await f.source.read(f.container, "arch/a.bin", { offset: 0, count: 10 }, page.entries[0]!.etag).then(drain).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BlobArchivedError);
      expect(classify(err)).toBe("archived");
    });
  });
}

function sinkContract(label: string, make: () => Promise<SinkFixture>) {
  describe(`ObjectSink contract: ${label}`, () => {
    let f: SinkFixture;
    beforeAll(async () => {
      f = await make();
    });

    it("puts with Content-MD5, headers, metadata and tags; head and getTags read them back", async () => {
      // Prepare
      const body = randomBytes(1234);
      // Act
      const { etag } = await f.sink.put(f.bucket, "p/one.bin", body, md5(body).toString("base64"), {
        contentType: "text/csv",
        contentEncoding: "identity",
        contentLanguage: "de",
        contentDisposition: "attachment",
        cacheControl: "no-store",
        metadata: { owner: "ops", "azure-etag": '"0x1"' },
      }, { "a+b": "c d", plain: "v=1/2" });
      // Assess
      expect(etag).toBe(md5(body).toString("hex"));
      const head = await f.sink.head(f.bucket, "p/one.bin");
      expect(head).toMatchObject({
        size: 1234,
        etag: md5(body).toString("hex"),
        contentType: "text/csv",
        contentEncoding: "identity",
        contentLanguage: "de",
        contentDisposition: "attachment",
        cacheControl: "no-store",
        metadata: { owner: "ops", "azure-etag": '"0x1"' },
      });
      expect(await f.sink.getTags(f.bucket, "p/one.bin")).toEqual({ "a+b": "c d", plain: "v=1/2" });
      expect(await f.sink.head(f.bucket, "p/missing.bin")).toBeUndefined();
    });

    it("lists keys page by page in UTF-8 byte order, odd names included, with sizes and bare ETags", async () => {
      // Prepare
      const bodies = new Map(ODD_NAMES.map((n, i) => [`lk/${n}`, randomBytes(10 + i)]));
      for (const [key, body] of bodies) await f.sink.put(f.bucket, key, body, md5(body).toString("base64"), { metadata: {} });
      await f.sink.put(f.bucket, "lk-outside", Buffer.from("x"), md5(Buffer.from("x")).toString("base64"), { metadata: {} });
      // Act: pages of 3, each after the last key of the one before
      const seen: Array<{ key: string; size: number; etag: string }> = [];
      let startAfter: string | undefined;
      for (let pages = 0; pages < 10; pages++) {
        const page = await f.sink.listKeys(f.bucket, { prefix: "lk/", startAfter, maxKeys: 3 });
        seen.push(...page.entries);
        if (!page.truncated) break;
        startAfter = page.entries.at(-1)!.key;
      }
      // Assess
      expect(seen.map((e) => e.key)).toEqual(utf8Order([...bodies.keys()]));
      for (const e of seen) {
        expect(e.size).toBe(bodies.get(e.key)!.length);
        expect(e.etag).toBe(md5(bodies.get(e.key)!).toString("hex"));
      }
    });

    it("reads an object back pinned to its ETag; a replaced object fails instead of mixing versions", async () => {
      const v1 = randomBytes(3000);
      const { etag } = await f.sink.put(f.bucket, "rd/a.bin", v1, md5(v1).toString("base64"), { metadata: {} });
      expect((await drain(await f.sink.get(f.bucket, "rd/a.bin", undefined, etag))).equals(v1)).toBe(true);
      expect((await drain(await f.sink.get(f.bucket, "rd/a.bin", undefined, `"${etag}"`))).equals(v1)).toBe(true);
      const v2 = randomBytes(3000);
      await f.sink.put(f.bucket, "rd/a.bin", v2, md5(v2).toString("base64"), { metadata: {} });
      const err = await f.sink.get(f.bucket, "rd/a.bin", undefined, etag).then(drain).catch((e: unknown) => e);
      expect((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(412);
    });

    it("refuses a body that does not match its Content-MD5, as a retryable BadDigest", async () => {
      const body = randomBytes(100);
      const err = await f.sink.put(f.bucket, "p/bad.bin", body, md5(Buffer.from("other")).toString("base64"), { metadata: {} }).catch((e: unknown) => e);
      expect((err as Error).name).toBe("BadDigest");
      expect(classify(err)).toBe("retryable");
      expect(await f.sink.head(f.bucket, "p/bad.bin")).toBeUndefined();
    });

    it("runs a multipart upload: part ETags are MD5s, ListParts, multipart ETag, tags after completion", async () => {
      const key = "m/two.bin";
      const p1 = randomBytes(5 * MiB);
      const p2 = randomBytes(777);
      const uploadId = await f.sink.createMultipart(f.bucket, key, { contentType: "application/x-big", metadata: { md5chksum: "xyz" } });
      const r1 = await f.sink.uploadPart(f.bucket, key, uploadId, 1, p1, md5(p1).toString("base64"));
      const r2 = await f.sink.uploadPart(f.bucket, key, uploadId, 2, p2, md5(p2).toString("base64"));
      expect([r1.etag, r2.etag]).toEqual([md5(p1).toString("hex"), md5(p2).toString("hex")]);
      expect(await f.sink.listParts(f.bucket, key, uploadId)).toEqual([
        { partNumber: 1, etag: r1.etag, size: p1.length },
        { partNumber: 2, etag: r2.etag, size: p2.length },
      ]);
      const open = await f.sink.listMultipartUploads(f.bucket, "m/");
      expect(open).toEqual([{ key, uploadId, initiated: expect.any(String) }]);
      // When it began, as the run-end sweep of leftover uploads needs it: a moment ago.
      expect(Math.abs(Date.parse(open[0]!.initiated!) - Date.now())).toBeLessThan(5 * 60_000);
      await f.sink.completeMultipart(f.bucket, key, uploadId, [{ partNumber: 1, etag: r1.etag }, { partNumber: 2, etag: r2.etag }]);
      await f.sink.putTags(f.bucket, key, { k: "v" });
      const head = (await f.sink.head(f.bucket, key))!;
      expect(head.size).toBe(p1.length + p2.length);
      expect(head.etag).toBe(multipartEtag([md5(p1), md5(p2)]));
      expect(head.contentType).toBe("application/x-big");
      expect(head.metadata.md5chksum).toBe("xyz");
      expect(await f.sink.getTags(f.bucket, key)).toEqual({ k: "v" });
      // Finished: no longer open, ListParts says gone.
      expect(await f.sink.listParts(f.bucket, key, uploadId)).toBeUndefined();
      expect(await f.sink.listMultipartUploads(f.bucket, "m/")).toEqual([]);
    });

    it("refuses a completion with a wrong part ETag (InvalidPart) or a small middle part (EntityTooSmall)", async () => {
      const key = "m/bad.bin";
      const small = randomBytes(1024);
      const uploadId = await f.sink.createMultipart(f.bucket, key, { metadata: {} });
      const r1 = await f.sink.uploadPart(f.bucket, key, uploadId, 1, small, md5(small).toString("base64"));
      const r2 = await f.sink.uploadPart(f.bucket, key, uploadId, 2, small, md5(small).toString("base64"));
      const wrong = await f.sink.completeMultipart(f.bucket, key, uploadId, [{ partNumber: 1, etag: "0".repeat(32) }]).catch((e: unknown) => e);
      expect((wrong as Error).name).toBe("InvalidPart");
      expect(classify(wrong)).toBe("permanent");
      const tooSmall = await f.sink.completeMultipart(f.bucket, key, uploadId, [{ partNumber: 1, etag: r1.etag }, { partNumber: 2, etag: r2.etag }]).catch((e: unknown) => e);
      expect((tooSmall as Error).name).toBe("EntityTooSmall");
      expect(classify(tooSmall)).toBe("permanent");
      await f.sink.abortMultipart(f.bucket, key, uploadId);
      expect(await f.sink.head(f.bucket, key)).toBeUndefined();
    });

    it("aborts idempotently; a gone upload lists as undefined and refuses parts as gone", async () => {
      const key = "m/aborted.bin";
      const uploadId = await f.sink.createMultipart(f.bucket, key, { metadata: {} });
      await f.sink.abortMultipart(f.bucket, key, uploadId);
      await f.sink.abortMultipart(f.bucket, key, uploadId);
      expect(await f.sink.listParts(f.bucket, key, uploadId)).toBeUndefined();
      const body = randomBytes(10);
      const err = await f.sink.uploadPart(f.bucket, key, uploadId, 1, body, md5(body).toString("base64")).catch((e: unknown) => e);
      expect(classify(err)).toBe("gone");
      expect(await f.sink.listMultipartUploads(f.bucket, "m/aborted")).toEqual([]);
    });
  });
}

// In-memory implementations.
sourceContract("in-memory", async () => {
  const source = new MemoryBlobSource();
  return {
    source,
    container: "c",
    write: async (name, body, props) => void source.putBlob("c", name, body, props),
    archive: async (name) => source.setTier("c", name, "Archive"),
  };
});
sinkContract("in-memory", async () => ({ sink: new MemoryObjectSink(), bucket: "b" }));

// Real servers: Azurite and Ceph RGW.
function azuriteFixture(http: boolean) {
  return async (): Promise<SourceFixture> => {
    const container = await newContainer("contract");
    return {
      source: new AzureBlobSource(clients.blob(), http ? createBlobHttp(azureConfig(), undefined) : undefined),
      container: container.containerName,
      write: async (name, body, props = {}) => {
        const blob = container.getBlockBlobClient(name);
        const blobHTTPHeaders = {
          blobContentType: props.contentType,
          blobCacheControl: props.cacheControl,
          blobContentLanguage: props.contentLanguage,
          blobContentDisposition: props.contentDisposition,
          blobContentEncoding: props.contentEncoding,
        };
        const common = { blobHTTPHeaders, metadata: props.metadata, tags: props.tags && Object.keys(props.tags).length ? props.tags : undefined };
        if (props.withMd5 === false) {
          // As most tools do: staged blocks, no Content-MD5 of the whole blob.
          const id = Buffer.from("block-000").toString("base64");
          await blob.stageBlock(id, body, body.length);
          await blob.commitBlockList([id], common);
        } else {
          await blob.upload(body, body.length, { ...common, blobHTTPHeaders: { ...blobHTTPHeaders, blobContentMD5: md5(body) } });
        }
      },
      archive: async (name) => void (await container.getBlobClient(name).setAccessTier("Archive")),
    };
  };
}
sourceContract("Azurite", azuriteFixture(false));
// The deployed source: block-blob range reads as plain requests, the rest through the SDK.
sourceContract("Azurite, plain requests for reads", azuriteFixture(true));
// The copy's requests are plain signed ones; tags, Object Lock settings, deletions and reads go through the SDK.
sinkContract("Ceph RGW", async () => ({ sink: new S3ObjectSink(async () => clients.s3(), { http: clients.s3Http() }), bucket: await newBucket("contract") }));
