/**
 * The limit: what the servers take with no copy tool in the way. Raw ranged
 * GETs from Azurite (bodies drained and dropped) and raw multipart uploads /
 * PUTs to RGW from a buffer filled once (no hashing of the body).
 */
import { randomFillSync } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { parallel } from "./corpus.ts";

/** SigV4 UNSIGNED-PAYLOAD: the client does not hash the body (as the engine's sink does). */
function unsigned<T extends { middlewareStack: { add: (mw: never, options: { step: "build"; name: string }) => void } }>(command: T): T {
  const mw = (next: (args: { request: unknown }) => Promise<unknown>) => async (args: { request: unknown }) => {
    const request = args.request as { headers?: Record<string, string> };
    if (request?.headers) request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
    return next(args);
  };
  command.middlewareStack.add(mw as never, { step: "build", name: "benchUnsignedPayload" });
  return command;
}

async function drain(res: Response): Promise<number> {
  if (!res.ok) throw new Error(`GET answered ${res.status}`);
  let n = 0;
  const reader = res.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return n;
    n += value.byteLength;
  }
}

/** Bytes per second of ranged GETs of `partSize` over the blobs, `concurrency` in flight. */
export async function rawRead(blobUrls: Array<{ url: string; size: number }>, partSize: number, concurrency: number): Promise<number> {
  const tasks: Array<{ url: string; start: number; end: number }> = [];
  for (const b of blobUrls) for (let s = 0; s < b.size; s += partSize) tasks.push({ url: b.url, start: s, end: Math.min(b.size, s + partSize) - 1 });
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  await parallel(tasks.length, concurrency, async (i) => {
    const t = tasks[i]!;
    bytes += await drain(await fetch(t.url, { headers: { Range: `bytes=${t.start}-${t.end}`, "x-ms-version": "2021-12-02" } }));
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return bytes / seconds;
}

/** Bytes per second of multipart uploads (`objects` objects of `size` each, parts of `partSize`), `concurrency` parts in flight. */
export async function rawWrite(s3: S3Client, bucket: string, prefix: string, objects: number, size: number, partSize: number, concurrency: number): Promise<number> {
  const body = randomFillSync(Buffer.allocUnsafe(partSize));
  const t0 = process.hrtime.bigint();
  const uploads: Array<{ key: string; uploadId: string; parts: Array<{ PartNumber: number; ETag: string }> }> = [];
  for (let o = 0; o < objects; o++) {
    const key = `${prefix}${o}.bin`;
    const r = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    uploads.push({ key, uploadId: r.UploadId!, parts: [] });
  }
  const tasks: Array<{ o: number; n: number; len: number }> = [];
  const partsPer = Math.ceil(size / partSize);
  for (let n = 1; n <= partsPer; n++) for (let o = 0; o < objects; o++) tasks.push({ o, n, len: Math.min(partSize, size - (n - 1) * partSize) });
  try {
    await parallel(tasks.length, concurrency, async (i) => {
      const t = tasks[i]!;
      const u = uploads[t.o]!;
      const b = t.len === partSize ? body : body.subarray(0, t.len);
      const r = await s3.send(unsigned(new UploadPartCommand({ Bucket: bucket, Key: u.key, UploadId: u.uploadId, PartNumber: t.n, Body: b, ContentLength: t.len })));
      u.parts.push({ PartNumber: t.n, ETag: r.ETag! });
    });
    for (const u of uploads) {
      u.parts.sort((a, b) => a.PartNumber - b.PartNumber);
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: u.key, UploadId: u.uploadId, MultipartUpload: { Parts: u.parts } }));
    }
  } catch (err) {
    await Promise.allSettled(uploads.map((u) => s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.key, UploadId: u.uploadId }))));
    throw err;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return (objects * size) / seconds;
}

/** Objects per second of GETs of whole small blobs, `concurrency` in flight. */
export async function rawSmallGets(urls: string[], concurrency: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  await parallel(urls.length, concurrency, async (i) => {
    await drain(await fetch(urls[i]!, { headers: { "x-ms-version": "2021-12-02" } }));
  });
  return urls.length / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** Objects per second of PUTs of `size` bytes, `concurrency` in flight. */
export async function rawSmallPuts(s3: S3Client, bucket: string, prefix: string, count: number, size: number, concurrency: number): Promise<number> {
  const body = randomFillSync(Buffer.allocUnsafe(size));
  const t0 = process.hrtime.bigint();
  await parallel(count, concurrency, async (i) => {
    await s3.send(unsigned(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}${i}.bin`, Body: body, ContentLength: size })));
  });
  return count / (Number(process.hrtime.bigint() - t0) / 1e9);
}
