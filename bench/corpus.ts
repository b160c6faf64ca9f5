/**
 * Source corpora in Azurite and clean-up of destinations in RGW.
 */
import { createHash, randomFillSync } from "node:crypto";
import { Agent, request as httpRequest } from "node:http";
import type { ContainerClient } from "@azure/storage-blob";
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { MiB } from "../shared/limits.ts";

const BLOCK = 8 * MiB;

/** Runs `task(i)` for i in [0, count) with at most `limit` in flight. */
export async function parallel(count: number, limit: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const lane = async () => {
    while (next < count && failed === undefined) {
      const i = next++;
      try {
        await task(i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
  if (failed !== undefined) throw failed;
}

/**
 * A large blob of pseudo-random bytes, staged in 8 MiB blocks (4 in flight) and
 * committed without Content-MD5, as most tools upload large blobs.
 */
export async function uploadLargeBlob(container: ContainerClient, name: string, size: number): Promise<string> {
  const blob = container.getBlockBlobClient(name);
  const hash = createHash("md5");
  const ids: string[] = [];
  const count = Math.ceil(size / BLOCK);
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < count; i++) {
    const len = Math.min(BLOCK, size - i * BLOCK);
    const chunk = randomFillSync(Buffer.allocUnsafe(len));
    hash.update(chunk);
    const id = Buffer.from(`block-${String(i).padStart(8, "0")}`).toString("base64");
    ids.push(id);
    const p: Promise<unknown> = blob.stageBlock(id, chunk, len).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 4) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  await blob.commitBlockList(ids);
  return hash.digest("hex");
}

/** `count` blobs of `size` random bytes named `${prefix}${index}`, `limit` uploads in flight. */
export async function uploadSmallBlobs(container: ContainerClient, prefix: string, count: number, size: number, limit = 64): Promise<void> {
  await parallel(count, limit, async (i) => {
    const body = size > 0 ? randomFillSync(Buffer.allocUnsafe(size)) : Buffer.alloc(0);
    await container.getBlockBlobClient(`${prefix}${String(i).padStart(6, "0")}.bin`).upload(body, size);
  });
}

/**
 * Zero-byte blobs `${prefix}${index}`, fast: plain PUTs with a SAS (no request
 * signing in the client), `limit` in flight on keep-alive sockets.
 */
export async function putEmptyBlobs(containerUrl: string, sas: string, prefix: string, count: number, limit = 64): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: limit });
  try {
    const put = (i: number) => {
      const url = `${containerUrl}/${prefix}${String(i).padStart(6, "0")}.bin?${sas}`;
      return new Promise<void>((resolve, reject) => {
        const req = httpRequest(url, { method: "PUT", agent, headers: { "x-ms-blob-type": "BlockBlob", "x-ms-version": "2021-12-02", "content-length": "0" } }, (res) => {
          res.resume();
          res.on("end", () => (res.statusCode === 201 ? resolve() : reject(new Error(`PUT ${prefix}${i} answered ${res.statusCode}`))));
        });
        req.on("error", reject);
        req.end();
      });
    };
    await parallel(count, limit, async (i) => {
      // A keep-alive socket the server closes as it is reused answers ECONNRESET: try again.
      for (let attempt = 1; ; attempt++) {
        try {
          return await put(i);
        } catch (err) {
          if (attempt >= 5) throw err;
          await new Promise((r) => setTimeout(r, 100 * attempt));
        }
      }
    });
  } finally {
    agent.destroy();
  }
}

/** Every key under `prefix` (ListObjectsV2 pages), with sizes. */
export async function listAll(s3: S3Client, bucket: string, prefix: string): Promise<Array<{ key: string; size: number }>> {
  const out: Array<{ key: string; size: number }> = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** Deletes every object under `prefix` (RGW frees the RAM of deleted objects in its garbage collection, ~10-20 s). */
export async function deletePrefix(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  const keys = await listAll(s3, bucket, prefix);
  for (let i = 0; i < keys.length; i += 1000) {
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((k) => ({ Key: k.key })), Quiet: true } }));
  }
  return keys.length;
}
