/**
 * The copy engine against a sink that behaves like AWS under SSE-C: ETags are
 * opaque (not the MD5 of anything). Ceph RGW returns MD5 ETags even under
 * SSE-C, so only this fake can show that nothing depends on ETag = MD5.
 */
import { describe, it, expect } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import { copyObject } from "../../shared/copy/copy-object.ts";
import { isUnchanged } from "../../shared/copy/skip-checks.ts";
import { MemoryBlobSource } from "../fakes/blob-source.ts";
import { MemoryObjectSink } from "../fakes/object-sink.ts";
import { InstrumentedSink } from "../fakes/instrumented.ts";
import { DEFAULT_TUNING, MiB, type Tuning } from "../../shared/limits.ts";
import type { CopyOptions, MultipartCheckpoint } from "../../shared/copy/types.ts";
import { parseSseCustomerKey } from "../../shared/s3/sse-c.ts";
import { loadSseCustomerKey } from "../../shared/config.ts";
import { redact } from "../../shared/redact.ts";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const TUNING: Tuning = { ...DEFAULT_TUNING, partSize: 5 * MiB, multipartThreshold: 5 * MiB, partConcurrency: 2, maxAttempts: 3 };
const md5hex = (b: Buffer) => createHash("md5").update(b).digest("hex");
const KEY_MD5 = "a2V5LW1kNS1vZi10aGUta2V5";

function setup(size: number, keyMd5: string | undefined = KEY_MD5) {
  const source = new MemoryBlobSource();
  const mem = new MemoryObjectSink({ sseCustomerKeyMd5: keyMd5 });
  const sink = new InstrumentedSink(mem);
  const body = randomBytes(size);
  const blob = source.putBlob("c", "x.bin", body, { metadata: { owner: "ops" } });
  const copy = (options: Partial<CopyOptions> = {}, target = sink) =>
    copyObject(source, target, { container: "c", blob, bucket: "b", key: "x.bin" }, { tuning: TUNING, ...options });
  return { source, mem, sink, body, blob, copy };
}

describe("SSE-C key configuration", () => {
  it("accepts the base64 of 32 bytes and gives the key's MD5", () => {
    const raw = randomBytes(32);
    const parsed = parseSseCustomerKey(raw.toString("base64"));
    expect(parsed).toEqual({ keyBase64: raw.toString("base64"), keyMd5: createHash("md5").update(raw).digest("base64") });
  });

  it("refuses a key of another length or not base64, naming the variable and never the value", () => {
    const short = randomBytes(16).toString("base64");
    expect(() => loadSseCustomerKey({ S3_SSE_C_KEY: short })).toThrow(/S3_SSE_C_KEY must be the base64 of a 32-byte key.*decodes to 16 bytes/);
    try {
      loadSseCustomerKey({ S3_SSE_C_KEY: short });
    } catch (err) {
      expect(String((err as Error).message)).not.toContain(short);
    }
    expect(() => loadSseCustomerKey({ S3_SSE_C_KEY: "not base64 at all!" })).toThrow(/is not base64/);
    expect(() => loadSseCustomerKey({ S3_SSE_C_KEY: "a", S3_SSE_C_KEY_FILE: "/nonexistent" })).toThrow(/both set/);
    expect(() => loadSseCustomerKey({ S3_SSE_C_KEY_FILE: "/nonexistent/key" })).toThrow(/S3_SSE_C_KEY_FILE can not be read \(ENOENT/);
  });

  it("reads the key from S3_SSE_C_KEY_FILE and registers it for redaction", () => {
    const raw = randomBytes(32).toString("base64");
    const file = join(mkdtempSync(join(tmpdir(), "ssec-")), "key");
    writeFileSync(file, `${raw}\n`);
    expect(loadSseCustomerKey({ S3_SSE_C_KEY_FILE: file })?.keyBase64).toBe(raw);
    expect(redact(`a ${raw} b`)).toBe("a [REDACTED] b");
  });
});

describe("copy engine with opaque ETags (SSE-C on AWS-like servers)", () => {
  it("copies a small object verified by Content-MD5 and a keyed HEAD, and skips it on a second copy", async () => {
    const h = setup(1000);
    const first = await h.copy();
    expect(first).toMatchObject({ outcome: "copied", md5: md5hex(h.body), verifiedBy: expect.stringMatching(/^content-md5\+sse-c-head-size\+markers(\+source-md5)?$/) });
    expect(h.sink.calls.head).toBe(2);
    expect(h.mem.getObject("b", "x.bin")!.body.equals(h.body)).toBe(true);
    expect(h.mem.getObject("b", "x.bin")!.head.sseCustomerKeyMd5).toBe(KEY_MD5);
    const second = await h.copy();
    expect(second).toMatchObject({ outcome: "skipped" });
  });

  it("copies a multipart object without comparing ETags to MD5s, and reads it back with --verify-readback", async () => {
    const h = setup(12 * MiB + 3);
    const result = await h.copy({ verifyReadback: true });
    expect(result).toMatchObject({ outcome: "copied", parts: 3, md5: md5hex(h.body), verifiedBy: expect.stringMatching(/^part-content-md5\+sse-c-head-size\+markers\+(own|source)-md5\+readback-md5$/) });
    expect(h.sink.calls.get).toBe(1);
  });

  it("resumes from a checkpoint reusing stored parts by the MD5 recorded with their opaque ETag", async () => {
    const ac = new AbortController();
    const h = setup(28 * MiB);
    const stopping = new InstrumentedSink(h.mem, { before: (call) => void (call.op === "uploadPart" && call.partNumber === 3 && ac.abort()) });
    const first = await h.copy({ signal: ac.signal, onCheckpoint: async () => undefined }, stopping);
    expect(first.outcome).toBe("interrupted");
    const cp = (first as { checkpoint: MultipartCheckpoint }).checkpoint;
    expect(cp.parts.length).toBeGreaterThan(0);
    for (const p of cp.parts) expect(p.md5).toMatch(/^[0-9a-f]{32}$/);
    for (const p of cp.parts) expect(p.etag).not.toBe(p.md5);
    const second = await h.copy({ checkpoint: cp });
    expect(second).toMatchObject({ outcome: "copied", parts: 6, md5: md5hex(h.body) });
    expect(h.sink.calls.uploadPart).toBe(6 - cp.parts.length);
    expect(h.mem.getObject("b", "x.bin")!.body.equals(h.body)).toBe(true);
  });

  it("retries a part the server answers BadDigest for, then copies it", async () => {
    const h = setup(11 * MiB);
    // The first upload of part 2 is altered on the wire, whatever order the parts go in.
    let tampered = false;
    const flaky = new InstrumentedSink(h.mem, {
      tamperPart: (call, body, md5) => {
        if (call.partNumber !== 2 || tampered) return undefined;
        tampered = true;
        const bad = Buffer.from(body);
        bad[7] = bad[7]! ^ 1;
        return { body: bad, md5Base64: md5 };
      },
    });
    const result = await h.copy({}, flaky);
    expect(result).toMatchObject({ outcome: "copied", md5: md5hex(h.body), retries: 1 });
    expect(h.mem.getObject("b", "x.bin")!.body.equals(h.body)).toBe(true);
  });

  it("--verify-readback catches what no ETag can under SSE-C: a part altered in transit with a matching Content-MD5", async () => {
    const h = setup(11 * MiB);
    const tampering = new InstrumentedSink(h.mem, {
      tamperPart: (call, body) => {
        if (call.partNumber !== 1) return undefined;
        const bad = Buffer.from(body);
        bad[99] = bad[99]! ^ 0xff;
        return { body: bad, md5Base64: createHash("md5").update(bad).digest("base64") };
      },
    });
    const result = await h.copy({ verifyReadback: true }, tampering);
    expect(result).toMatchObject({ outcome: "failed", code: "readback-mismatch" });
    expect((result as { reason: string }).reason).toMatch(/deleted so that the next run copies it again/);
    // Nothing left that a next run could take for an unchanged copy.
    expect(h.mem.getObject("b", "x.bin")).toBeUndefined();
  });

  it("does not take an object stored without encryption for unchanged when the run encrypts", () => {
    const h = setup(10);
    const head = { size: 10, etag: "e", metadata: { "azure-etag": h.blob.etag } };
    expect(isUnchanged(h.blob, head)).toBeTruthy();
    expect(isUnchanged(h.blob, head, KEY_MD5)).toBeUndefined();
    expect(isUnchanged(h.blob, { ...head, sseCustomerKeyMd5: KEY_MD5 }, KEY_MD5)).toBeTruthy();
  });
});
