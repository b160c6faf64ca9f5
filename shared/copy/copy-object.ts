/**
 * The copy engine: one blob to one key, verified. Knows only the ports.
 * Never throws for a problem of the object itself (it returns "failed" with a
 * code and a safe reason); throws only for programming errors.
 */
import type { BlobEntry, BlobSource, ObjectSink } from "../ports.ts";
import type { CopyOptions, CopyResult, CopyTask } from "./types.ts";
import { CopyRun, errorClassOf, failureCode, reasonOf } from "./copy-run.ts";
import { copySmall } from "./small-copy.ts";
import { copyMultipart } from "./multipart-copy.ts";
import { ARCHIVED_REASON, isArchived, isUnchanged, isUnchangedByListing, isUnchangedByProof } from "./skip-checks.ts";
import { describeLock, lockOf } from "./metadata.ts";
import { readBack } from "./readback.ts";
import { S3_LIMITS } from "../limits.ts";
import { CUSTOMER_KEY_REASON, immutabilityWarning, setAsideSourceMd5 } from "./source-notes.ts";

function assertUsable(task: CopyTask, options: CopyOptions): void {
  if (!task?.blob || !task.container || !task.bucket || typeof task.key !== "string" || task.key === "") {
    throw new TypeError("copyObject: task needs container, blob, bucket and a non-empty key");
  }
  if (!options?.tuning) throw new TypeError("copyObject: options.tuning is required");
}

/** Errors that mean our code is wrong, not the object: they must surface. */
export function isProgrammingError(err: unknown): boolean {
  return err instanceof TypeError || err instanceof ReferenceError || err instanceof SyntaxError;
}

export async function copyObject(source: BlobSource, sink: ObjectSink, task: CopyTask, options: CopyOptions): Promise<CopyResult> {
  assertUsable(task, options);
  const run = new CopyRun(source, sink, task, options);
  run.emit({ type: "object-start", key: task.key, size: task.blob.size });
  let result: CopyResult;
  try {
    result = await execute(run);
    if (result.outcome === "copied" && options.verifyReadback) result = await readBack(run, result);
  } catch (err) {
    if (isProgrammingError(err)) throw err;
    result = run.failed(failureCode(err), reasonOf(err));
  }
  run.emit({ type: "object-end", key: task.key, outcome: result.outcome });
  return result;
}

/**
 * Why a blob can not be copied to `key` at all, known before any request; the
 * same answer for every copy path (one PUT, multipart, giant ranges).
 */
export function refusal(blob: BlobEntry, key: string, options: { requireImmutability?: boolean; objectLockAvailable?: boolean } = {}): { code: string; reason: string } | undefined {
  if (isArchived(blob)) return { code: "archived", reason: ARCHIVED_REASON };
  if (blob.customerKey) return { code: "customer-key", reason: CUSTOMER_KEY_REASON };
  // A destination with Object Lock takes the lock with the copy; only one without it refuses such a blob.
  if (options.requireImmutability && !options.objectLockAvailable) {
    const lock = lockOf(blob);
    if (lock) return { code: "immutability-required", reason: `the source is under ${describeLock(lock)} and the destination bucket has no Object Lock (--require-immutability)` };
  }
  // S3 answers a too-long key with a bodiless 400 on HEAD ("UnknownError"): say why instead.
  const keyBytes = Buffer.byteLength(key, "utf8");
  if (keyBytes > S3_LIMITS.maxKeyBytes) {
    return { code: "key-too-long", reason: `destination key is ${keyBytes} bytes, over the ${S3_LIMITS.maxKeyBytes}-byte limit of S3 keys` };
  }
  if (blob.size > S3_LIMITS.maxObjectSize) {
    return { code: "too-large", reason: `object of ${blob.size} bytes exceeds the 5 TB maximum of Scaleway Object Storage` };
  }
  return undefined;
}

async function execute(run: CopyRun): Promise<CopyResult> {
  const { task, options } = run;
  let blob = task.blob;
  const refused = refusal(blob, task.key, options);
  if (refused) return run.failed(refused.code, refused.reason);
  if (options.signal?.aborted && !options.mustProgress) return { outcome: "interrupted", key: task.key, size: blob.size, checkpoint: options.checkpoint };

  if (!options.force && !options.knownAbsent) {
    const listed = options.listed && (isUnchangedByListing(blob, options.listed, run.sink.etagsAreMd5) || isUnchangedByProof(blob, options.listed, run.sink.customerKeyMd5, options.proofs));
    const head = listed ? undefined : await run.step("HeadObject", () => run.sink.head(task.bucket, task.key));
    const why = listed || (head && isUnchanged(blob, head, run.sink.customerKeyMd5));
    if (why) {
      // The checkpoint of an older attempt is obsolete: leave no upload behind.
      if (options.checkpoint) await run.abortUpload(options.checkpoint.key, options.checkpoint.uploadId);
      return { outcome: "skipped", key: task.key, size: blob.size, reason: `unchanged: ${why}`, md5: blob.contentMd5, ...(head ? { headEtag: head.etag } : {}) };
    }
  }

  // At most one restart after the source changed mid-copy: a blob rewritten
  // continuously is reported rather than chased.
  for (let round = 0; ; round++) {
    try {
      if (blob.size < options.tuning.multipartThreshold) {
        if (round === 0 && options.checkpoint) await run.abortUpload(options.checkpoint.key, options.checkpoint.uploadId);
        return await copySmall(run, blob);
      }
      return await copyMultipart(run, blob, round === 0 ? options.checkpoint : undefined);
    } catch (err) {
      if (errorClassOf(err) !== "source-changed") throw err;
      if (round > 0) return run.failed("source-changed", `the blob changed again while being copied: ${reasonOf(err)}`, blob.size);
      const fresh = await run.step("stat", () => run.source.stat(task.container, blob.name));
      if (!fresh) return run.failed("source-changed", "the blob was deleted while being copied", blob.size);
      if (isArchived(fresh)) return run.failed("archived", ARCHIVED_REASON, fresh.size);
      blob = options.sourceMd5 === "ignore" ? setAsideSourceMd5(fresh) : fresh;
      run.emit({ type: "object-start", key: task.key, size: blob.size });
    }
  }
}
