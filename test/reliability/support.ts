/** Helpers shared by the reliability and security tests: corpora, state, ledger, open uploads. */
import { createHash, randomBytes } from "node:crypto";
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import type { BlockBlobUploadOptions, ContainerClient } from "@azure/storage-blob";
import { withRetry } from "../../shared/retry.ts";
import type { LedgerEntry } from "../../shared/state/layout.ts";
import { clients } from "../support/env.ts";

export const MiB = 1024 * 1024;

/** The suite's environment with the Azure endpoint of its connection string replaced (a proxy in front of Azurite). */
export function azureThrough<T extends { AZURE_STORAGE_CONNECTION_STRING?: string }>(env: T, endpoint: string): T {
  return { ...env, AZURE_STORAGE_CONNECTION_STRING: env.AZURE_STORAGE_CONNECTION_STRING!.replace(/BlobEndpoint=http:\/\/[^/;]+/, `BlobEndpoint=${endpoint}`) };
}
export const md5 = (b: Buffer | Uint8Array) => createHash("md5").update(b).digest("hex");
/** Multipart from 5 MiB, 5 MiB parts: a 12 MiB blob is three parts. */
export const SMALL_PARTS = { MULTIPART_THRESHOLD_MB: "5", PART_SIZE_MB: "5" };

/** Uploads a blob, retrying transport hiccups (the suite's clients have the SDK's own retries off). */
export async function upload(container: ContainerClient, name: string, body: Buffer | string, options?: BlockBlobUploadOptions): Promise<void> {
  await withRetry(() => container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), options), { attempts: 5, baseMs: 100 });
}

/**
 * `count` blobs of mixed sizes: mostly 0-64 KiB, a few of 200 KiB-1 MiB, and
 * `large` multipart blobs of 6-12 MiB. Returns name -> bytes.
 */
export async function seedCorpus(container: ContainerClient, count: number, large = 2, prefix = "c/"): Promise<Map<string, Buffer>> {
  const bodies = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const size = i < large ? 6 * MiB + i * 3 * MiB + 123 : i % 10 === 0 ? 200 * 1024 + i * 7919 : (i * 2654435761) % (64 * 1024);
    bodies.set(`${prefix}${String(i).padStart(4, "0")}-${size}.bin`, randomBytes(size));
  }
  const entries = [...bodies];
  // Uploaded a few at a time: quick, and gentle with the shared cores.
  for (let i = 0; i < entries.length; i += 16) {
    await Promise.all(entries.slice(i, i + 16).map(([name, body]) => upload(container, name, body, { metadata: { origin: "seed" } })));
  }
  return bodies;
}

/** Every key under `prefix` in the bucket. */
export async function listKeys(s3: S3Client, bucket: string, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of r.Contents ?? []) keys.push(o.Key!);
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

export async function getText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return r.Body!.transformToString("utf8");
}

export async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

/** Every run-state object of the bucket: key -> body. */
export async function stateObjects(bucket: string): Promise<Map<string, string>> {
  const s3 = clients.s3();
  const out = new Map<string, string>();
  for (const key of await listKeys(s3, bucket, ".migrate-state/")) out.set(key, await getText(s3, bucket, key));
  return out;
}

export async function ledgerOf(bucket: string, runId: string): Promise<LedgerEntry[]> {
  const body = await getText(clients.s3(), bucket, `.migrate-state/runs/${runId}/ledger.jsonl`);
  return body.split("\n").filter(Boolean).map((l) => JSON.parse(l) as LedgerEntry);
}

export async function openUploads(bucket: string): Promise<string[]> {
  const r = await clients.s3().send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (r.Uploads ?? []).map((u) => u.Key!);
}

/** Keys present more than once. */
export function duplicates(keys: string[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const k of keys) (seen.has(k) ? twice : seen).add(k);
  return [...twice];
}

/** The destination's data objects (state prefix excluded) with their MD5s. */
export async function destinationDigests(bucket: string, prefix = ""): Promise<Map<string, string>> {
  const s3 = clients.s3();
  const out = new Map<string, string>();
  for (const key of await listKeys(s3, bucket, prefix)) {
    if (key.startsWith(".migrate-state/")) continue;
    out.set(key, md5(await getBytes(s3, bucket, key)));
  }
  return out;
}
