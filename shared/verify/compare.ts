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
import { DEFAULT_STATE_PREFIX } from "../config.ts";
import { contentHeadersOf, type BlobEntry, type BlobSource, type ObjectSink } from "../ports.ts";
import { describeError } from "../redact.ts";
import { mapKey, type AzureLocation, type S3Location } from "../locations.ts";
import { hexToBase64 } from "../copy/metadata.ts";
import { isArchived } from "../copy/skip-checks.ts";
import { answeredStatus } from "../retry.ts";
import { ObjectFailure } from "../errors.ts";
import { diffObject, diffTags, type DestinationSide, type SourceSide } from "./object-diff.ts";
import { isDirectoryPlaceholder } from "../azure/hierarchical.ts";

/**
 * What verification reads through: the same ports as the copy, so it runs on
 * the in-memory fakes too. A sink built with an SSE-C key sends it on every
 * HEAD and GET.
 */
export interface VerifyPorts {
  source: BlobSource;
  sink: ObjectSink;
}

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
  /** SSE-C objects compared without the key (--no-content): size and tags only, metadata unreadable. */
  sizeOnly: number;
  /** ADLS Gen2 directory placeholders under the prefix: not objects, not compared. */
  directories?: number;
  /** Set when the source refused to list tags: why; tags were then not compared. */
  tagsNotCompared?: string;
}

export const MISSING = "missing on destination";

export async function verifyMigration(ports: VerifyPorts, options: VerifyOptions): Promise<VerifySummary> {
  const { source, destination, signal } = options;
  const statePrefix = options.statePrefix ?? DEFAULT_STATE_PREFIX;
  const content = options.content ?? true;
  const summary: VerifySummary = { checked: 0, matched: 0, differing: 0, differences: 0, missing: 0, extra: 0, archived: 0, sizeOnly: 0 };
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
    const destKeys = destinationKeys(ports.sink, destination, statePrefix);
    let destHead = await destKeys.next();
    let marker: string | undefined;
    do {
      signal?.throwIfAborted();
      const page = await ports.source.listPage(source.container, { prefix: source.prefix || undefined, marker, pageSize: options.pageSize ?? 1000 });
      if (page.tagsUnreadable) summary.tagsNotCompared ??= page.tagsUnreadable;
      for (const blob of page.entries) {
        if (isDirectoryPlaceholder(blob)) {
          summary.directories = (summary.directories ?? 0) + 1;
          continue;
        }
        const key = mapKey(blob.name, source.prefix, destination.prefix);
        // Merge-join with the destination listing (both in key order) to find extras without a
        // set of every key. The orders can disagree (Azure's is not always UTF-8 byte order), so
        // a key passed over is only a candidate, confirmed against the source before reporting.
        while (!destHead.done && byteOrder(destHead.value, key) < 0) {
          const candidate = destHead.value;
          await schedule(() => confirmExtra(ports.source, candidate, source, destination, emit));
          destHead = await destKeys.next();
        }
        if (!destHead.done && destHead.value === key) destHead = await destKeys.next();
        // Tags the identity can not read are not compared (the run said so too).
        await schedule(() => checkBlob(ports, source.container, blob, key, destination.bucket, { content, statePrefix, signal, compareTags: !blob.tagsUnread }, emit, summary));
      }
      marker = page.nextMarker;
    } while (marker);
    for (; !destHead.done; destHead = await destKeys.next()) {
      const candidate = destHead.value;
      await schedule(() => confirmExtra(ports.source, candidate, source, destination, emit));
    }
    await flush();
  }
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** Destination keys under the prefix, page by page, run state left out. */
async function* destinationKeys(sink: ObjectSink, dest: S3Location, statePrefix: string): AsyncGenerator<string> {
  let startAfter: string | undefined;
  for (;;) {
    const page = await sink.listKeys(dest.bucket, { prefix: dest.prefix || undefined, startAfter });
    for (const o of page.entries) if (!o.key.startsWith(statePrefix)) yield o.key;
    if (!page.truncated || page.entries.length === 0) return;
    startAfter = page.entries.at(-1)!.key;
  }
}

async function confirmExtra(blobs: BlobSource, key: string, source: AzureLocation, dest: S3Location, emit: (f: Finding) => void): Promise<void> {
  const blobName = source.prefix + key.slice(dest.prefix.length);
  try {
    if (await blobs.stat(source.container, blobName)) return;
    // A `dir/` marker written by --directory-markers for an ADLS Gen2 directory placeholder `dir`.
    if (blobName.endsWith("/") && blobName.length > 1) {
      const placeholder = await blobs.stat(source.container, blobName.slice(0, -1));
      if (placeholder && isDirectoryPlaceholder(placeholder)) return;
    }
  } catch (err) {
    emit({ kind: "difference", key: blobName, problem: `could not check whether the destination object ${JSON.stringify(key)} has a source: ${describeError(err)}` });
    return;
  }
  emit({ kind: "extra", key });
}

function sourceSide(blob: BlobEntry): SourceSide {
  return {
    size: blob.size,
    contentMd5: blob.contentMd5 ? hexToBase64(blob.contentMd5) : undefined,
    ...contentHeadersOf(blob),
    metadata: blob.metadata,
    tags: blob.tags,
  };
}

interface CompareOptions {
  content: boolean;
  statePrefix: string;
  signal?: AbortSignal;
  /** False when the source refused tags: they are not compared. */
  compareTags?: boolean;
}

async function checkBlob(
  ports: VerifyPorts,
  container: string,
  blob: BlobEntry,
  key: string,
  bucket: string,
  options: CompareOptions,
  emit: (f: Finding) => void,
  summary: VerifySummary,
): Promise<void> {
  if (isArchived(blob)) {
    emit({ kind: "archived", key: blob.name });
    return;
  }
  summary.checked++;
  const problems = await compareOne(ports, container, blob, key, bucket, options, summary).catch((err: unknown) => [`could not compare: ${describeError(err)}`]);
  if (problems.length === 0) {
    summary.matched++;
    return;
  }
  summary.differing++;
  if (problems.includes(MISSING)) summary.missing++;
  for (const problem of problems) emit({ kind: "difference", key: blob.name, problem });
}

/** SSE-C: a HEAD without the object's key (or with another) is refused with 400. */
function isKeyRefusal(err: unknown): boolean {
  return answeredStatus(err) === 400 || (err instanceof ObjectFailure && err.code === "sse-c-key-mismatch");
}

/**
 * An SSE-C object compared without its key: its size (from the listing, which
 * needs no key) and its tags (tagging needs no key either). Metadata and bytes
 * can not be read.
 */
async function sizeAndTagsOnly(sink: ObjectSink, blob: BlobEntry, key: string, bucket: string): Promise<string[]> {
  const listed = await sink.listKeys(bucket, { prefix: key, maxKeys: 1 });
  const entry = listed.entries.find((o) => o.key === key);
  if (!entry) return [MISSING];
  const problems: string[] = [];
  if (entry.size !== blob.size) problems.push(`size differs: source ${blob.size}, destination ${entry.size}`);
  problems.push(...diffTags(blob.tags, await sink.getTags(bucket, key)));
  return problems;
}

async function compareOne(ports: VerifyPorts, container: string, blob: BlobEntry, key: string, bucket: string, options: CompareOptions, summary: VerifySummary): Promise<string[]> {
  if (key.startsWith(options.statePrefix)) return [`maps to ${JSON.stringify(key)}, inside the reserved state prefix ${options.statePrefix}: never copied`];
  let head;
  try {
    head = await ports.sink.head(bucket, key);
  } catch (err) {
    if (!isKeyRefusal(err)) throw err;
    if (ports.sink.customerKeyMd5) return ["can not be read with S3_SSE_C_KEY: encrypted with another SSE-C key"];
    if (options.content) return ["encrypted with SSE-C: set S3_SSE_C_KEY to compare its bytes and metadata, or use --no-content"];
    summary.sizeOnly++;
    return sizeAndTagsOnly(ports.sink, blob, key, bucket);
  }
  if (!head) return [MISSING];
  const dest: DestinationSide = {
    size: head.size,
    ...contentHeadersOf(head),
    metadata: head.metadata,
    tags: await ports.sink.getTags(bucket, key),
  };
  const sourceFacts = sourceSide(blob);
  if (options.compareTags === false) sourceFacts.tags = dest.tags;
  const diff = diffObject(sourceFacts, dest);
  // A size difference already says the bytes differ: reading them would prove nothing more.
  if (!options.content || dest.size !== blob.size) return diff.problems;

  const [sourceMd5, destMd5] = await hashBoth(ports, container, blob, bucket, key, head.etag, options.signal);
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
async function hashBoth(ports: VerifyPorts, container: string, blob: BlobEntry, bucket: string, key: string, destEtag: string, signal?: AbortSignal): Promise<[string, string]> {
  const ac = new AbortController();
  const abort = () => ac.abort();
  signal?.addEventListener("abort", abort, { once: true });
  try {
    // An empty blob has no range to read.
    const src = (async () => (blob.size === 0 ? md5Of(undefined, ac.signal) : md5Of(await ports.source.read(container, blob.name, { offset: 0, count: blob.size }, blob.etag, ac.signal), ac.signal)))();
    const dst = (async () => md5Of(await ports.sink.get(bucket, key, ac.signal, destEtag), ac.signal))();
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
