/**
 * Objects at or above the multipart threshold: planned parts read with
 * parallel ranged reads, uploaded with bounded concurrency, each part's MD5
 * checked against the ETag the server returns, the whole object's MD5 computed
 * in order while streaming, resumable from a checkpoint.
 *
 * Memory: a part buffer is taken from the shared budget before its read and
 * given back once the part is both uploaded and folded into the whole-object
 * hash; one object holds at most partConcurrency parts whatever its size.
 */
import type { BlobEntry, UploadedPart } from "../ports.ts";
import type { CopyResult, MultipartCheckpoint } from "./types.ts";
import { describeError } from "../redact.ts";
import { type CopyRun, errorClassOf, failureCode, reasonOf } from "./copy-run.ts";
import { mapBlobToObject } from "./metadata.ts";
import { planParts, type PartPlan, type PlannedPart } from "./planner.ts";
import { readRange } from "./read-range.ts";
import { SequentialReader } from "./sequential-reader.ts";
import { PART_BUFFERS } from "./buffer-pool.ts";
import { incrementalMd5, md5Of } from "./md5-workers.ts";
import { completeUpload, uploadCheckedPart, verifyCompleted } from "./multipart-upload.ts";
import { PartScheduler } from "./part-scheduler.ts";

interface PartSlot extends PlannedPart {
  /** Set once the part's bytes are read; dropped when it is both uploaded and hashed. */
  buf?: Buffer;
  /** The pooled buffer the part is read into, returned to the pool on release. */
  pooled?: Buffer;
  /** Gives back the part's scheduler slot (counted against partConcurrency from the part's start). */
  releaseSlot?: () => void;
  held: number;
  uploaded: boolean;
  hashed: boolean;
}

type Stop = { kind: "interrupted" } | { kind: "failed"; error: unknown };

/** The part plan; a resumed upload keeps the part size it was started with while that is still a valid plan. */
function planFor(blob: BlobEntry, run: CopyRun, checkpoint?: MultipartCheckpoint): PartPlan {
  const { tuning } = run.options;
  // Resume with the part size the upload was started with, when it is still a valid plan.
  if (checkpoint && checkpoint.partSize !== tuning.partSize) {
    const same = planParts(blob.size, { partSize: checkpoint.partSize, maxParts: tuning.maxParts });
    if (same.partSize === checkpoint.partSize) return same;
  }
  return planParts(blob.size, tuning);
}

export async function copyMultipart(run: CopyRun, blob: BlobEntry, checkpoint?: MultipartCheckpoint): Promise<CopyResult> {
  const { container, bucket, key } = run.task;
  const { tuning, signal } = run.options;
  const plan = planFor(blob, run, checkpoint);
  // Where the MD5 of the whole object is stored: md5chksum must be given at
  // CreateMultipartUpload, before any byte is read. When the source has a
  // Content-MD5 it goes there (and the copy fails before completing if our hash
  // disagrees). When it has none, our MD5 exists only at the end; writing it
  // afterwards would need a CopyObject of the object onto itself (a full
  // server-side copy, impossible above 5 GiB without a second multipart copy),
  // or a second full read of the source. Neither is worth it: later skip checks
  // match on the azure-etag marker and size, and our MD5 goes to the run ledger.
  const mapped = mapBlobToObject(blob, { storageClassMap: run.options.storageClassMap, objectLockAvailable: run.options.objectLockAvailable });
  const warnings = [...mapped.warnings];

  // 1. Resume the checkpoint's upload when it is still for this version of the blob, else start a new one.
  let uploadId: string | undefined;
  const reusable = new Map<number, UploadedPart>();
  // A stored part is reused when it holds the bytes just read: its ETag is their MD5 (plain S3), or,
  // where ETags are opaque (SSE-C), the checkpoint recorded that ETag with the MD5 of the bytes sent.
  const recorded = new Map((checkpoint?.parts ?? []).map((p) => [p.partNumber, p]));
  const sameBytes = (stored: UploadedPart, md5Hex: string) =>
    run.sink.etagsAreMd5 ? stored.etag === md5Hex : recorded.get(stored.partNumber)?.etag === stored.etag && recorded.get(stored.partNumber)?.md5 === md5Hex;
  if (checkpoint) {
    if (checkpoint.sourceEtag !== blob.etag || checkpoint.partSize !== plan.partSize || checkpoint.key !== key) {
      const abortProblem = await run.abortUpload(checkpoint.key, checkpoint.uploadId);
      if (abortProblem) warnings.push(`previous ${abortProblem}`);
    } else {
      const listed = await run.step("ListParts", () => run.sink.listParts(bucket, key, checkpoint.uploadId));
      if (listed) {
        uploadId = checkpoint.uploadId;
        for (const p of listed) {
          const planned = plan.parts[p.partNumber - 1];
          if (planned && planned.length === p.size) reusable.set(p.partNumber, p);
        }
      }
    }
  }
  if (!uploadId) {
    uploadId = await run.step("CreateMultipartUpload", () => run.sink.createMultipart(bucket, key, mapped.headers));
  }
  const openUploadId = uploadId;

  const slots: PartSlot[] = plan.parts.map((p) => ({ ...p, held: 0, uploaded: false, hashed: false }));
  const confirmed = new Map<number, UploadedPart>();
  // Whole-object MD5, fed in part order; updates run off the event loop and settle in order.
  // It is a second MD5 pass over every byte (the parts have theirs): computed when something
  // compares with it (the source's Content-MD5, or the one --source-md5 ignore set aside and the
  // ledger notes as stale or not; --verify-readback) or when WHOLE_OBJECT_MD5=always asks for it. Without it every byte is still checked: each part by the server
  // against its Content-MD5 and by us against its ETag, then the multipart ETag and the size.
  const whole = tuning.wholeObjectMd5 === "always" || blob.contentMd5 || blob.ignoredContentMd5 || run.options.verifyReadback ? incrementalMd5() : undefined;
  let nextToHash = 0;
  const hashing: Promise<void>[] = [];
  // A part holds its slot until it is both uploaded and hashed: what this object holds in memory.
  const scheduler = new PartScheduler(tuning.partConcurrency);

  // Checkpoint saves are chained so they land in order; a failing store must not fail the copy.
  let saving: Promise<void> = Promise.resolve();
  let checkpointProblem: string | undefined;
  const snapshot = (): MultipartCheckpoint => ({
    key,
    uploadId: openUploadId,
    sourceEtag: blob.etag,
    partSize: plan.partSize,
    parts: [...confirmed.values()].sort((a, b) => a.partNumber - b.partNumber),
  });
  const save = () => {
    const cp = snapshot();
    const write = run.options.onCheckpoint;
    if (!write) return saving;
    saving = saving.then(() => write(cp)).catch((err) => {
      checkpointProblem = describeError(err);
    });
    return saving;
  };
  // Saved at once, so a crash right after CreateMultipartUpload still leaves the upload id on record.
  if (openUploadId !== checkpoint?.uploadId) void save();

  const release = (slot: PartSlot) => {
    if (slot.held > 0) run.memory.release(slot.held);
    slot.held = 0;
    if (slot.pooled) PART_BUFFERS.give(slot.pooled);
    slot.pooled = undefined;
    slot.buf = undefined;
    slot.releaseSlot?.();
    slot.releaseSlot = undefined;
  };
  const drainHash = () => {
    while (nextToHash < slots.length && slots[nextToHash]!.buf) {
      const slot = slots[nextToHash++]!;
      if (!whole) {
        slot.hashed = true;
        continue;
      }
      hashing.push(
        whole.update(slot.buf!).then(
          () => {
            slot.hashed = true;
            if (slot.uploaded) release(slot);
          },
          (err: unknown) => {
            stopWith(err);
            scheduler.wake();
          },
        ),
      );
    }
  };

  // Parts stored by this call; with mustProgress the deadline is honoured only after the first.
  let uploadedNow = 0;
  const deadlinePassed = () => !!signal?.aborted && (!run.options.mustProgress || uploadedNow > 0);

  let stop: Stop | undefined;
  const stopWith = (err: unknown) => {
    const deadline = signal?.aborted && (err === signal.reason || errorClassOf(err) === "retryable");
    if (deadline) stop ??= { kind: "interrupted" };
    // A real failure wins over an interruption: the upload must then be aborted.
    else if (stop?.kind !== "failed") stop = { kind: "failed", error: err };
  };

  const reader = tuning.readMode === "ranges" ? undefined : new SequentialReader(run.source, container, blob.name, blob.etag, blob.size, { blobType: blob.blobType });

  const runPart = async (slot: PartSlot) => {
    const n = slot.partNumber;
    await run.memory.acquire(slot.length, deadlinePassed() ? signal : undefined);
    slot.held = slot.length;
    const into = (slot.pooled = PART_BUFFERS.take(slot.length));
    const buf = await run.step(
      `read part ${n}`,
      () => (reader ? reader.read(slot.offset, into) : readRange(run.source, container, blob.name, blob.etag, slot.offset, slot.length, into, { blobType: blob.blobType })),
      true,
    );
    slot.buf = buf;
    drainHash();
    const md5 = await md5Of(buf);
    const md5Hex = md5.toString("hex");
    const reused = reusable.get(n);
    if (reused && sameBytes(reused, md5Hex)) {
      // Already on the server with the same bytes: read only to feed the whole-object hash.
      confirmed.set(n, { ...reused, md5: md5Hex });
    } else {
      if (stop?.kind === "failed") return;
      confirmed.set(n, await uploadCheckedPart(run, openUploadId, n, buf, md5, true));
      uploadedNow++;
      void save();
    }
    slot.uploaded = true;
    if (slot.hashed) release(slot);
    run.emit({ type: "part", key, partNumber: n, bytes: slot.length });
    run.emit({ type: "bytes", key, bytes: slot.length });
  };

  // 2. Parts, in order. A part counts from its start until it is both uploaded and hashed, and at
  //    most partConcurrency count at once: that bounds the requests in flight, how far reads run
  //    ahead of the in-order hash, and the memory (partConcurrency x partSize) together.
  await scheduler.run(slots, {
    stopping: () => {
      if (!stop && deadlinePassed()) stop = { kind: "interrupted" };
      return stop !== undefined;
    },
    start: (slot, releaseSlot) => {
      slot.releaseSlot = releaseSlot;
      return runPart(slot);
    },
    onError: stopWith,
  });
  reader?.close();
  await Promise.all(hashing);
  for (const slot of slots) release(slot);
  await saving;
  if (checkpointProblem) warnings.push(`checkpoint not saved: ${checkpointProblem}`);

  const allStored = confirmed.size === slots.length;
  if (stop || !allStored) whole?.dispose();
  if (stop?.kind === "failed") {
    const err = stop.error;
    const abortProblem = await run.abortUpload(key, openUploadId);
    // A changed source goes back to copyObject, which restarts from the new version.
    if (errorClassOf(err) === "source-changed" && !abortProblem) throw err;
    return run.failed(failureCode(err), reasonOf(err) + (abortProblem ? `; ${abortProblem}` : ""), blob.size);
  }
  if (!allStored) {
    // Deadline: leave the upload open; the checkpoint lets a later invocation resume it.
    const cp = snapshot();
    const write = run.options.onCheckpoint;
    if (write) await write(cp).catch(() => undefined);
    return { outcome: "interrupted", key, size: blob.size, checkpoint: cp };
  }

  // 3. Whole-object MD5 against the source's, before anything becomes visible.
  const md5Hex = whole && (await whole.digest()).toString("hex");
  if (blob.contentMd5 && blob.contentMd5 !== md5Hex) {
    const abortProblem = await run.abortUpload(key, openUploadId);
    return run.failed("md5-mismatch", `bytes read have MD5 ${md5Hex}, the source's Content-MD5 is ${blob.contentMd5}${abortProblem ? `; ${abortProblem}` : ""}`, blob.size);
  }

  // 4. Complete, then check what the server made of it.
  const parts = [...confirmed.values()];
  try {
    await completeUpload(run, openUploadId, parts);
  } catch (err) {
    const abortProblem = await run.abortUpload(key, openUploadId);
    return run.failed(failureCode(err), reasonOf(err) + (abortProblem ? `; ${abortProblem}` : ""), blob.size);
  }
  const verified = await verifyCompleted(run, parts, mapped, blob.size);
  return {
    outcome: "copied",
    key,
    size: blob.size,
    ...(md5Hex ? { md5: md5Hex } : {}),
    verifiedBy: (run.sink.etagsAreMd5 ? "part-md5+multipart-etag+size" : "part-content-md5+sse-c-head-size+markers") + (blob.contentMd5 ? "+source-md5" : md5Hex ? "+own-md5" : ""),
    etag: verified.head.etag,
    sourceEtag: blob.etag,
    parts: slots.length,
    retries: run.retries,
    warnings: [...warnings, ...verified.warnings],
  };
}

