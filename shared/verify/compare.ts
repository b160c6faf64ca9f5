/**
 * `migrate verify`: an independent comparison of an Azure container (prefix)
 * with its copy in an S3 bucket (prefix). It trusts neither the run state nor
 * the copy engine: it lists the source, reads each destination object back and,
 * unless told not to, hashes both sides' bytes.
 *
 * Memory stays bounded whatever the container's size: one source page and one
 * destination page are held at a time, `concurrency` objects are compared at
 * once, bytes are hashed as they stream, and findings are handed to `onFinding`
 * instead of being collected here.
 */
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import pLimit from "p-limit";
import type { BlobItem, BlobServiceClient, ContainerClient } from "@azure/storage-blob";
import { GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { DEFAULT_STATE_PREFIX } from "../config.ts";
import { describeError } from "../redact.ts";
import { mapKey, type AzureLocation, type S3Location } from "../locations.ts";
import { diffObject, type DestinationSide, type SourceSide } from "./object-diff.ts";

export type Finding =
  /** `key` is the blob name. */
  | { kind: "difference"; key: string; problem: string }
  /** `key` is the destination key: an object with no blob behind it. Informational. */
  | { kind: "extra"; key: string }
  /** `key` is the blob name: in the Archive tier, its bytes can not be read. */
  | { kind: "archived"; key: string };

export interface VerifyOptions {
  source: AzureLocation;
  destination: S3Location;
  /** Objects compared at once. */
  concurrency: number;
  /** Hash the bytes of both sides (default true). */
  content?: boolean;
  /** Reserved prefix of run state in the bucket: never data. */
  statePrefix?: string;
  pageSize?: number;
  onFinding?: (finding: Finding) => void;
  signal?: AbortSignal;
}

export interface VerifySummary {
  /** Blobs compared (archived ones excluded). */
  checked: number;
  /** Compared blobs with no difference. */
  matched: number;
  /** Compared blobs with at least one difference (missing ones included). */
  differing: number;
  /** Difference findings (one blob may have several). */
  differences: number;
  /** Blobs with no destination object. */
  missing: number;
  extra: number;
  archived: number;
}

export const MISSING = "missing on destination";

export async function verifyMigration(clients: { blob: BlobServiceClient; s3: S3Client }, options: VerifyOptions): Promise<VerifySummary> {
  const { source, destination, signal } = options;
  const statePrefix = options.statePrefix ?? DEFAULT_STATE_PREFIX;
  const content = options.content ?? true;
  const container = clients.blob.getContainerClient(source.container);
  const summary: VerifySummary = { checked: 0, matched: 0, differing: 0, differences: 0, missing: 0, extra: 0, archived: 0 };
  const emit = (f: Finding) => {
    if (f.kind === "difference") summary.differences++;
    else summary[f.kind]++;
    options.onFinding?.(f);
  };
  const limit = pLimit(options.concurrency);
  // Comparisons queued but not finished: awaited in batches so a long run of extras
  // (or a huge page) never piles up more than `window` pending tasks.
  const window = Math.max(2 * (options.pageSize ?? 1000), 4 * options.concurrency);
  let pending: Array<Promise<void>> = [];
  const schedule = async (task: () => Promise<void>) => {
    pending.push(limit(task));
    if (pending.length >= window) await flush();
  };
  const flush = async () => {
    const batch = pending;
    pending = [];
    await Promise.all(batch);
  };

  try {
    await walk();
  } finally {
    // On a listing failure, let the comparisons already started finish before returning.
    await Promise.allSettled(pending);
  }
  return summary;

  async function walk(): Promise<void> {
    const destKeys = destinationKeys(clients.s3, destination, statePrefix, signal);
    let destHead = await destKeys.next();
    const pages = container
      .listBlobsFlat({ prefix: source.prefix || undefined, includeMetadata: true, includeTags: true })
      .byPage({ maxPageSize: options.pageSize ?? 1000 });
    for await (const page of pages) {
      signal?.throwIfAborted();
      for (const item of page.segment.blobItems) {
        const key = mapKey(item.name, source.prefix, destination.prefix);
        // Merge-join with the destination listing (both in key order) to find extras without a
        // set of every key. The orders can disagree (Azure's is not always UTF-8 byte order), so
        // a key passed over is only a candidate, confirmed against the source before reporting.
        while (!destHead.done && byteOrder(destHead.value, key) < 0) {
          const candidate = destHead.value;
          await schedule(() => confirmExtra(container, candidate, source, destination, emit));
          destHead = await destKeys.next();
        }
        if (!destHead.done && destHead.value === key) destHead = await destKeys.next();
        await schedule(() => checkBlob(clients.s3, container, item, key, destination.bucket, { content, statePrefix, signal }, emit, summary));
      }
    }
    for (; !destHead.done; destHead = await destKeys.next()) {
      const candidate = destHead.value;
      await schedule(() => confirmExtra(container, candidate, source, destination, emit));
    }
    await flush();
  }
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** Destination keys under the prefix, page by page, run state left out. */
async function* destinationKeys(s3: S3Client, dest: S3Location, statePrefix: string, signal?: AbortSignal): AsyncGenerator<string> {
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: dest.bucket, Prefix: dest.prefix || undefined, ContinuationToken: token }),
      { abortSignal: signal },
    );
    for (const o of page.Contents ?? []) if (o.Key !== undefined && !o.Key.startsWith(statePrefix)) yield o.Key;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

async function confirmExtra(container: ContainerClient, key: string, source: AzureLocation, dest: S3Location, emit: (f: Finding) => void): Promise<void> {
  const blobName = source.prefix + key.slice(dest.prefix.length);
  try {
    if (await container.getBlobClient(blobName).exists()) return;
  } catch (err) {
    emit({ kind: "difference", key: blobName, problem: `could not check whether the destination object ${JSON.stringify(key)} has a source: ${describeError(err)}` });
    return;
  }
  emit({ kind: "extra", key });
}

function sourceSide(item: BlobItem): SourceSide {
  const p = item.properties;
  const tags = item.tags ?? {};
  return {
    size: p.contentLength ?? 0,
    contentMd5: p.contentMD5 && p.contentMD5.length > 0 ? Buffer.from(p.contentMD5).toString("base64") : undefined,
    contentType: p.contentType,
    contentEncoding: p.contentEncoding,
    contentLanguage: p.contentLanguage,
    contentDisposition: p.contentDisposition,
    cacheControl: p.cacheControl,
    metadata: item.metadata ?? {},
    tags,
  };
}

const statusOf = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

async function checkBlob(
  s3: S3Client,
  container: ContainerClient,
  item: BlobItem,
  key: string,
  bucket: string,
  options: { content: boolean; statePrefix: string; signal?: AbortSignal },
  emit: (f: Finding) => void,
  summary: VerifySummary,
): Promise<void> {
  if (item.properties.accessTier === "Archive") {
    emit({ kind: "archived", key: item.name });
    return;
  }
  summary.checked++;
  const problems = await compareOne(s3, container, item, key, bucket, options).catch((err: unknown) => [`could not compare: ${describeError(err)}`]);
  if (problems.length === 0) {
    summary.matched++;
    return;
  }
  summary.differing++;
  if (problems.includes(MISSING)) summary.missing++;
  for (const problem of problems) emit({ kind: "difference", key: item.name, problem });
}

async function compareOne(
  s3: S3Client,
  container: ContainerClient,
  item: BlobItem,
  key: string,
  bucket: string,
  options: { content: boolean; statePrefix: string; signal?: AbortSignal },
): Promise<string[]> {
  if (key.startsWith(options.statePrefix)) return [`maps to ${JSON.stringify(key)}, inside the reserved state prefix ${options.statePrefix}: never copied`];
  const { signal } = options;
  let head;
  try {
    head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  } catch (err) {
    if (statusOf(err) === 404) return [MISSING];
    throw err;
  }
  const tagging = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  const dest: DestinationSide = {
    size: head.ContentLength ?? 0,
    contentType: head.ContentType,
    contentEncoding: head.ContentEncoding,
    contentLanguage: head.ContentLanguage,
    contentDisposition: head.ContentDisposition,
    cacheControl: head.CacheControl,
    metadata: head.Metadata ?? {},
    tags: Object.fromEntries((tagging.TagSet ?? []).map((t) => [t.Key ?? "", t.Value ?? ""])),
  };
  const diff = diffObject(sourceSide(item), dest);
  // A size difference already says the bytes differ: reading them would prove nothing more.
  if (!options.content || dest.size !== (item.properties.contentLength ?? 0)) return diff.problems;

  const [sourceMd5, destMd5] = await hashBoth(container, item, s3, bucket, key, head.ETag, signal);
  if (sourceMd5 !== destMd5) diff.problems.push(`content differs: source bytes md5 ${sourceMd5}, destination bytes md5 ${destMd5}`);
  else if (diff.expectedMd5 && diff.expectedMd5.base64 !== destMd5) {
    diff.problems.push(`md5 differs: bytes hash to ${destMd5}, ${diff.expectedMd5.from} says ${diff.expectedMd5.base64}`);
  }
  return diff.problems;
}

/**
 * Base64 MD5 of both sides, streamed in parallel; each read is pinned to the version
 * that was listed or headed, so a concurrent overwrite fails instead of mixing versions.
 */
async function hashBoth(
  container: ContainerClient,
  item: BlobItem,
  s3: S3Client,
  bucket: string,
  key: string,
  destEtag: string | undefined,
  signal?: AbortSignal,
): Promise<[string, string]> {
  const ac = new AbortController();
  const abort = () => ac.abort();
  signal?.addEventListener("abort", abort, { once: true });
  try {
    const src = (async () => {
      const res = await container
        .getBlobClient(item.name)
        .download(0, undefined, { conditions: { ifMatch: item.properties.etag }, abortSignal: ac.signal });
      return md5Of(res.readableStreamBody as Readable | undefined, ac.signal);
    })();
    const dst = (async () => {
      const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: destEtag }), { abortSignal: ac.signal });
      return md5Of(res.Body as Readable | undefined, ac.signal);
    })();
    // On the first failure stop the other stream too: no socket left reading in the background.
    const both = Promise.all([src, dst]);
    both.catch(abort);
    return await both;
  } finally {
    signal?.removeEventListener("abort", abort);
  }
}

async function md5Of(body: Readable | undefined, signal: AbortSignal): Promise<string> {
  const hash = createHash("md5");
  if (body) {
    const stop = () => body.destroy(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const chunk of body) hash.update(chunk as Buffer);
    } finally {
      signal.removeEventListener("abort", stop);
    }
  }
  return hash.digest("base64");
}
