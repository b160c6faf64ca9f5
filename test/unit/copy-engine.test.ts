import { describe, it, expect } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import { copyObject } from "../../shared/copy/copy-object.ts";
import { ByteBudget } from "../../shared/copy/memory-budget.ts";
import { MemoryBlobSource, type BlobProps } from "../fakes/blob-source.ts";
import { MemoryObjectSink } from "../fakes/object-sink.ts";
import { InstrumentedSink, InstrumentedSource, type SinkInstrumentation, type SourceCall } from "../fakes/instrumented.ts";
import { FakeS3Error } from "../fakes/s3-error.ts";
import { DEFAULT_TUNING, MiB, type Tuning } from "../../shared/limits.ts";
import type { CopyOptions, MultipartCheckpoint, ProgressEvent } from "../../shared/copy/types.ts";
import type { BlobEntry } from "../../shared/ports.ts";
import { copyProofToken } from "../../shared/copy/skip-checks.ts";

const TUNING: Tuning = { ...DEFAULT_TUNING, partSize: 5 * MiB, multipartThreshold: 5 * MiB, partConcurrency: 3, maxAttempts: 3 };
const md5hex = (b: Buffer) => createHash("md5").update(b).digest("hex");
const md5b64 = (b: Buffer) => createHash("md5").update(b).digest("base64");

interface Harness {
  memSource: MemoryBlobSource;
  memSink: MemoryObjectSink;
  source: InstrumentedSource;
  sink: InstrumentedSink;
  blob: BlobEntry;
  body: Buffer;
  copy: (options?: Partial<CopyOptions>) => ReturnType<typeof copyObject>;
}

function harness(size: number, props: BlobProps = {}, hooks: { sink?: SinkInstrumentation; sourceBefore?: (call: SourceCall) => void | Promise<void> } = {}): Harness {
  const memSource = new MemoryBlobSource();
  const memSink = new MemoryObjectSink();
  const body = randomBytes(size);
  const blob = memSource.putBlob("c", "dir/blob.bin", body, props);
  const source = new InstrumentedSource(memSource, { before: hooks.sourceBefore });
  const sink = new InstrumentedSink(memSink, hooks.sink);
  const h: Harness = {
    memSource,
    memSink,
    source,
    sink,
    blob,
    body,
    copy: (options = {}) => copyObject(source, sink, { container: "c", blob: h.blob, bucket: "b", key: "dst/blob.bin" }, { tuning: TUNING, ...options }),
  };
  return h;
}

describe("copyObject on in-memory ports: small objects", () => {
  it("copies a small blob byte-exact with headers, metadata, tags and markers", async () => {
    // Prepare
    const h = harness(1000, {
      contentType: "text/plain",
      cacheControl: "max-age=5",
      contentDisposition: "inline",
      metadata: { Owner: "ops" },
      tags: { env: "prod" },
    });
    // Act
    const result = await h.copy();
    // Assess
    expect(result).toMatchObject({ outcome: "copied", size: 1000, md5: md5hex(h.body), parts: 1, verifiedBy: "content-md5+etag+source-md5", warnings: [] });
    const stored = h.memSink.getObject("b", "dst/blob.bin")!;
    expect(stored.body.equals(h.body)).toBe(true);
    expect(stored.head).toMatchObject({ contentType: "text/plain", cacheControl: "max-age=5", contentDisposition: "inline" });
    expect(stored.head.metadata).toEqual({ owner: "ops", "azure-etag": h.blob.etag, "azure-last-modified": h.blob.lastModified, md5chksum: md5b64(h.body) });
    expect(stored.tags).toEqual({ env: "prod" });
    expect(h.sink.calls.put).toBe(1);
  });

  it("copies a 0-byte blob", async () => {
    const h = harness(0);
    const result = await h.copy();
    expect(result).toMatchObject({ outcome: "copied", size: 0, md5: md5hex(Buffer.alloc(0)) });
    expect(h.memSink.getObject("b", "dst/blob.bin")!.body.length).toBe(0);
  });

  it("fails a blob whose bytes do not match its own Content-MD5, storing nothing", async () => {
    const h = harness(100);
    h.blob = { ...h.blob, contentMd5: "00000000000000000000000000000000" };
    const result = await h.copy();
    expect(result).toMatchObject({ outcome: "failed", code: "md5-mismatch" });
    expect(h.memSink.getObject("b", "dst/blob.bin")).toBeUndefined();
  });
});

describe("copyObject on in-memory ports: multipart", () => {
  it("copies a multi-part blob byte-exact, verified by part MD5s and the multipart ETag", async () => {
    const h = harness(17 * MiB + 5, { tags: { a: "1" }, metadata: { k: "v" } });
    const events: ProgressEvent[] = [];
    const result = await h.copy({ onProgress: (e) => events.push(e) });
    expect(result).toMatchObject({ outcome: "copied", parts: 4, md5: md5hex(h.body), verifiedBy: "part-md5+multipart-etag+size+source-md5" });
    const stored = h.memSink.getObject("b", "dst/blob.bin")!;
    expect(stored.body.equals(h.body)).toBe(true);
    expect(stored.head.etag).toMatch(/-4$/);
    expect(stored.head.metadata.md5chksum).toBe(md5b64(h.body));
    expect(stored.head.metadata.k).toBe("v");
    expect(stored.tags).toEqual({ a: "1" });
    expect(h.sink.calls.uploadPart).toBe(4);
    expect(h.memSink.openUploads()).toBe(0);
    const bytes = events.filter((e) => e.type === "bytes").reduce((n, e) => n + (e.type === "bytes" ? e.bytes : 0), 0);
    expect(bytes).toBe(h.body.length);
    expect(events.at(-1)).toEqual({ type: "object-end", key: "dst/blob.bin", outcome: "copied" });
  });

  it("verifies a blob without Content-MD5 by its parts' MD5s, the multipart ETag and the size, without a second MD5 pass", async () => {
    const h = harness(11 * MiB, { withMd5: false });
    const result = await h.copy();
    expect(result).toMatchObject({ outcome: "copied", verifiedBy: "part-md5+multipart-etag+size" });
    expect(result.outcome === "copied" && result.md5).toBeFalsy();
    expect(h.memSink.getObject("b", "dst/blob.bin")!.body.equals(h.body)).toBe(true);
  });

  it("with WHOLE_OBJECT_MD5=always, also hashes the whole blob without Content-MD5 and returns our MD5", async () => {
    const h = harness(11 * MiB, { withMd5: false });
    const result = await h.copy({ tuning: { ...TUNING, wholeObjectMd5: "always" } });
    expect(result).toMatchObject({ outcome: "copied", md5: md5hex(h.body), verifiedBy: "part-md5+multipart-etag+size+own-md5" });
    expect(h.memSink.getObject("b", "dst/blob.bin")!.body.equals(h.body)).toBe(true);
  });

  it("fails a part corrupted on its way, does not complete, aborts the upload once", async () => {
    // The corruption keeps a matching Content-MD5 (as a broken proxy would): only the ETag check can see it.
    const h = harness(16 * MiB, {}, {
      sink: {
        tamperPart: (call, body) => {
          if (call.partNumber !== 2) return undefined;
          const bad = Buffer.from(body);
          bad[12345] = bad[12345]! ^ 0xff;
          return { body: bad, md5Base64: md5b64(bad) };
        },
      },
    });
    const result = await h.copy();
    expect(result).toMatchObject({ outcome: "failed", code: "part-corrupted" });
    expect(h.sink.calls.completeMultipart ?? 0).toBe(0);
    expect(h.sink.calls.abortMultipart).toBe(1);
    expect(h.memSink.getObject("b", "dst/blob.bin")).toBeUndefined();
    expect(h.memSink.openUploads()).toBe(0);
  });

  it("fails after retries when a part always arrives with a wrong Content-MD5 (BadDigest)", async () => {
    const h = harness(11 * MiB, {}, {
      sink: {
        tamperPart: (call, body, md5) => {
          if (call.partNumber !== 1) return undefined;
          const bad = Buffer.from(body);
          bad[0] = bad[0]! ^ 1;
          return { body: bad, md5Base64: md5 };
        },
      },
    });
    const result = await h.copy();
    expect(result).toMatchObject({ outcome: "failed", code: "unavailable" });
    expect((result as { reason: string }).reason).toMatch(/UploadPart 1: BadDigest/);
    expect(result.outcome === "failed" && result.retries).toBe(TUNING.maxAttempts - 1);
    expect(h.memSink.openUploads()).toBe(0);
  });

  it("on a permanent error waits for the parts in flight, then aborts once: no part lands after the abort", async () => {
    const order: string[] = [];
    const h = harness(30 * MiB, {}, {
      sink: {
        before: async (call) => {
          order.push(`${call.op}${call.partNumber ?? ""}`);
          if (call.op === "uploadPart" && call.partNumber === 2) throw new FakeS3Error("AccessDenied", 403, "Access Denied");
          if (call.op === "uploadPart") await new Promise((r) => setTimeout(r, 20));
        },
      },
    });
    const result = await h.copy();
    expect(result).toMatchObject({ outcome: "failed", code: "rejected" });
    expect((result as { reason: string }).reason).toMatch(/UploadPart 2: AccessDenied/);
    expect(order.filter((o) => o === "abortMultipart")).toHaveLength(1);
    expect(order.at(-1)).toBe("abortMultipart");
    expect(h.memSink.openUploads()).toBe(0);
    expect(h.sink.calls.uploadPart).toBeLessThan(6);
  });

  it("retries throttled requests and counts the retries", async () => {
    const h = harness(16 * MiB, {}, {
      sink: {
        before: (call) => {
          if (call.op === "uploadPart" && call.n <= 2) throw new FakeS3Error("SlowDown", 503, "Please reduce your request rate.");
        },
      },
    });
    const result = await h.copy();
    expect(result).toMatchObject({ outcome: "copied", retries: 2 });
    expect(h.memSink.getObject("b", "dst/blob.bin")!.body.equals(h.body)).toBe(true);
  });

  it("holds at most partConcurrency parts of memory from a shared budget", async () => {
    const budget = new ByteBudget(1024 * MiB);
    let peak = 0;
    const watched = {
      acquire: async (n: number, s?: AbortSignal) => {
        await budget.acquire(n, s);
        peak = Math.max(peak, budget.used);
      },
      release: (n: number) => budget.release(n),
    };
    const h = harness(40 * MiB, {}, { sink: { before: () => new Promise((r) => setTimeout(r, 5)) } });
    const result = await h.copy({ memory: watched });
    expect(result.outcome).toBe("copied");
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(TUNING.partConcurrency * TUNING.partSize);
    expect(budget.used).toBe(0);
  });
});

describe("copyObject on in-memory ports: interruption and resume", () => {
  it("stops at the deadline with a checkpoint, then resumes uploading only the missing parts", async () => {
    // Prepare: 6 parts; the deadline fires while part 2 is being stored.
    const ac = new AbortController();
    const h = harness(28 * MiB, {}, {
      sink: {
        before: (call) => {
          if (call.op === "uploadPart" && call.partNumber === 2) ac.abort();
        },
      },
    });
    const saved: MultipartCheckpoint[] = [];
    // Act 1
    const first = await h.copy({ signal: ac.signal, onCheckpoint: async (cp) => void saved.push(structuredClone(cp)) });
    // Assess 1
    expect(first.outcome).toBe("interrupted");
    const cp = (first as { checkpoint: MultipartCheckpoint }).checkpoint;
    expect(cp.parts.length).toBeGreaterThan(0);
    expect(cp.parts.length).toBeLessThan(6);
    expect(saved.at(-1)).toEqual(cp);
    expect(h.memSink.openUploads()).toBe(1);
    expect(h.memSink.getObject("b", "dst/blob.bin")).toBeUndefined();
    const uploadsBefore = h.sink.calls.uploadPart!;
    // Act 2
    const second = await h.copy({ checkpoint: cp });
    // Assess 2
    expect(second).toMatchObject({ outcome: "copied", parts: 6, md5: md5hex(h.body) });
    expect(h.sink.calls.uploadPart! - uploadsBefore).toBe(6 - cp.parts.length);
    expect(h.sink.calls.createMultipart).toBe(1);
    expect(h.memSink.getObject("b", "dst/blob.bin")!.body.equals(h.body)).toBe(true);
    expect(h.memSink.openUploads()).toBe(0);
  });

  it("restarts cleanly when the checkpoint's upload no longer exists", async () => {
    const h = harness(11 * MiB);
    const cp: MultipartCheckpoint = { key: "dst/blob.bin", uploadId: "gone-upload", sourceEtag: h.blob.etag, partSize: 5 * MiB, parts: [{ partNumber: 1, etag: "x", size: 5 * MiB }] };
    const result = await h.copy({ checkpoint: cp });
    expect(result).toMatchObject({ outcome: "copied", parts: 3 });
    expect(h.sink.calls.listParts).toBe(1);
    expect(h.sink.calls.createMultipart).toBe(1);
    expect(h.sink.calls.uploadPart).toBe(3);
    expect(h.memSink.getObject("b", "dst/blob.bin")!.body.equals(h.body)).toBe(true);
  });

  it("aborts the checkpoint's upload and starts over when the source changed since", async () => {
    const h = harness(11 * MiB);
    const oldId = await h.memSink.createMultipart("b", "dst/blob.bin", { metadata: {} });
    const cp: MultipartCheckpoint = { key: "dst/blob.bin", uploadId: oldId, sourceEtag: '"0xOLD"', partSize: 5 * MiB, parts: [] };
    const result = await h.copy({ checkpoint: cp });
    expect(result.outcome).toBe("copied");
    expect(h.sink.calls.abortMultipart).toBe(1);
    expect(h.memSink.openUploads()).toBe(0);
  });
});

describe("copyObject on in-memory ports: source states", () => {
  it("restarts from the new version when the blob changes mid-copy (412), never mixing versions", async () => {
    const next = randomBytes(12 * MiB);
    let h!: Harness;
    h = harness(16 * MiB, {}, {
      sourceBefore: (call) => {
        if (call.op === "read" && call.n === 2) h.memSource.putBlob("c", "dir/blob.bin", next);
      },
    });
    const listedEtag = h.blob.etag;
    const result = await h.copy({ tuning: { ...TUNING, readMode: "ranges" } });
    expect(result).toMatchObject({ outcome: "copied", size: next.length, md5: md5hex(next) });
    // The version copied is named: not the listed one (no copy proof is written for that one)
    expect(result.outcome === "copied" && result.sourceEtag).toBe((await h.memSource.stat("c", "dir/blob.bin"))!.etag);
    expect(result.outcome === "copied" && result.sourceEtag).not.toBe(listedEtag);
    expect(h.memSink.getObject("b", "dst/blob.bin")!.body.equals(next)).toBe(true);
    expect(h.sink.calls.createMultipart).toBe(2);
    expect(h.sink.calls.abortMultipart).toBe(1);
    expect(h.memSink.openUploads()).toBe(0);
  });

  it("fails with source-changed when the blob keeps changing", async () => {
    let h!: Harness;
    h = harness(16 * MiB, {}, {
      sourceBefore: (call) => {
        if (call.op === "read" && call.n % 2 === 0) h.memSource.putBlob("c", "dir/blob.bin", randomBytes(11 * MiB));
      },
    });
    const result = await h.copy({ tuning: { ...TUNING, readMode: "ranges" } });
    expect(result).toMatchObject({ outcome: "failed", code: "source-changed" });
    expect(h.memSink.getObject("b", "dst/blob.bin")).toBeUndefined();
    expect(h.memSink.openUploads()).toBe(0);
  });

  it.each([
    ["Archive tier", { accessTier: "Archive" }],
    ["rehydrate pending", { accessTier: "Hot", archiveStatus: "rehydrate-pending-to-hot" }],
  ])("never reads an archived blob (%s)", async (_label, props) => {
    const h = harness(100, props);
    const result = await h.copy({ tuning: { ...TUNING, readMode: "ranges" } });
    expect(result).toMatchObject({ outcome: "failed", code: "archived", reason: "archived: rehydrate first" });
    expect(h.source.calls.read ?? 0).toBe(0);
    expect(h.sink.calls.put ?? 0).toBe(0);
  });

  it("skips an unchanged destination without reading the source, and copies again when forced or changed", async () => {
    const h = harness(11 * MiB);
    expect((await h.copy()).outcome).toBe("copied");
    const reads = h.source.bytesRead;
    // Act: same blob again
    const again = await h.copy();
    expect(again).toMatchObject({ outcome: "skipped", reason: "unchanged: same size and source ETag" });
    expect(h.source.bytesRead).toBe(reads);
    // Forced
    expect((await h.copy({ force: true })).outcome).toBe("copied");
    // Changed blob (same size, new ETag and MD5)
    h.blob = h.memSource.putBlob("c", "dir/blob.bin", randomBytes(11 * MiB));
    expect((await h.copy()).outcome).toBe("copied");
  });

  it("skips on a matching md5chksum even without our ETag marker (e.g. written by rclone)", async () => {
    const h = harness(100);
    await h.memSink.put("b", "dst/blob.bin", h.body, md5b64(h.body), { metadata: { md5chksum: md5b64(h.body) } });
    const result = await h.copy();
    expect(result).toMatchObject({ outcome: "skipped", reason: "unchanged: same size and MD5" });
    expect(h.source.calls.read ?? 0).toBe(0);
  });
});

describe("copyObject deciding from the destination listing", () => {
  it("skips without a HEAD or a read when the listed size and ETag are the source's Content-MD5, and copies when either differs", async () => {
    const h = harness(1000);
    expect(h.blob.contentMd5).toBeDefined();
    const first = await h.copy();
    expect(first.outcome).toBe("copied");
    const md5Hex = createHash("md5").update(h.body).digest("hex");
    const heads = h.sink.calls.head ?? 0;
    const reads = h.source.calls.read ?? 0;
    // Act: a re-run that listed the destination
    const again = await h.copy({ listed: { size: 1000, etag: md5Hex } });
    // Assess: decided from the listing alone
    expect(again).toMatchObject({ outcome: "skipped", reason: "unchanged: same size and MD5 (destination listing)" });
    expect(h.sink.calls.head ?? 0).toBe(heads);
    expect(h.source.calls.read ?? 0).toBe(reads);
    // A listed ETag that is not the source's MD5 (another version, or a multipart ETag) falls back to the HEAD
    const other = await h.copy({ listed: { size: 1000, etag: `${md5Hex}-2` } });
    expect(h.sink.calls.head ?? 0).toBe(heads + 1);
    expect(other).toMatchObject({ outcome: "skipped", reason: "unchanged: same size and source ETag" });
    // Another size: never skipped on the listing
    await h.copy({ listed: { size: 999, etag: md5Hex } });
    expect(h.sink.calls.head ?? 0).toBe(heads + 2);
  });

  it("never decides from the listing without a source Content-MD5", async () => {
    const h = harness(1000, { withMd5: false });
    expect(h.blob.contentMd5).toBeUndefined();
    await h.copy();
    const heads = h.sink.calls.head ?? 0;
    const md5Hex = createHash("md5").update(h.body).digest("hex");
    const again = await h.copy({ listed: { size: 1000, etag: md5Hex } });
    expect(h.sink.calls.head ?? 0).toBe(heads + 1);
    expect(again).toMatchObject({ outcome: "skipped", reason: "unchanged: same size and source ETag" });
  });
});

describe("copyObject deciding from a copy proof", () => {
  it("skips a multipart object without a HEAD when a proof of this source version and this listed ETag is found, and HEADs otherwise", async () => {
    // Prepare: a multipart blob without Content-MD5, copied once
    const h = harness(11 * MiB, { withMd5: false });
    const first = await h.copy();
    expect(first.outcome).toBe("copied");
    const etag = first.outcome === "copied" ? first.etag : "";
    expect(etag).toMatch(/-3$/);
    const token = copyProofToken({ sourceEtag: h.blob.etag, size: h.blob.size, destinationEtag: etag });
    const heads = h.sink.calls.head ?? 0;
    const reads = h.source.calls.read ?? 0;
    // Act
    const again = await h.copy({ listed: { size: h.blob.size, etag }, proofs: new Set(["0".repeat(32), token]) });
    // Assess: decided from the listing and the proof alone
    expect(again).toMatchObject({ outcome: "skipped", reason: "unchanged: same size and source ETag (copy proof)" });
    expect(h.sink.calls.head ?? 0).toBe(heads);
    expect(h.source.calls.read ?? 0).toBe(reads);
    expect(again).not.toHaveProperty("headEtag");
    // The object listed with another ETag (overwritten since): the proof no longer matches, the HEAD decides
    const other = await h.copy({ listed: { size: h.blob.size, etag: `${"1".repeat(32)}-3` }, proofs: new Set([token]) });
    expect(h.sink.calls.head ?? 0).toBe(heads + 1);
    // The HEAD's ETag comes back, for a proof the next run can use
    expect(other).toMatchObject({ outcome: "skipped", reason: "unchanged: same size and source ETag", headEtag: etag });
  });
});

describe("copyObject reading one stream per blob (READ_MODE=stream)", () => {
  it("cuts one GET into parts, byte-exact and verified, and reopens at the right offset after a cut", async () => {
    const h = harness(23 * MiB + 11, { withMd5: false });
    const result = await h.copy({ tuning: { ...TUNING, readMode: "stream", wholeObjectMd5: "always" } });
    expect(result).toMatchObject({ outcome: "copied", md5: md5hex(h.body) });
    expect(h.memSink.getObject("b", "dst/blob.bin")!.body.equals(h.body)).toBe(true);
    expect(h.source.calls.read).toBe(1);

    // A stream that dies after its first chunk: the retry reopens at the part's own offset.
    const { SequentialReader } = await import("../../shared/copy/sequential-reader.ts");
    const { Readable } = await import("node:stream");
    let opens = 0;
    const flaky = {
      ...h.memSource,
      read: async (c: string, n: string, range: { offset: number; count: number }, etag: string) => {
        opens++;
        const inner = await h.memSource.read(c, n, range, etag);
        if (opens > 1) return inner;
        return Readable.from((async function* () {
          for await (const chunk of inner) {
            yield chunk;
            throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
          }
        })());
      },
    } as unknown as import("../../shared/ports.ts").BlobSource;
    const reader = new SequentialReader(flaky, "c", "dir/blob.bin", h.blob.etag, h.body.length);
    const part = Buffer.alloc(5 * MiB);
    await expect(reader.read(0, part)).rejects.toThrow(/hang up/);
    await reader.read(0, part);
    expect(part.equals(h.body.subarray(0, 5 * MiB))).toBe(true);
    const second = Buffer.alloc(5 * MiB);
    await reader.read(5 * MiB, second);
    expect(second.equals(h.body.subarray(5 * MiB, 10 * MiB))).toBe(true);
    expect(opens).toBe(2);
    reader.close();
  });
});
