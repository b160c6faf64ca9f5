/**
 * Copies one shard under at-least-once delivery. A result already written means
 * the shard is done (re-announce it); a live lease held by another invocation
 * means someone is on it (leave it). Otherwise copy what the checkpoint says is
 * left, save the checkpoint as objects finish and parts land, and before the
 * deadline hand the rest to a continuation message.
 */
import pLimit from "p-limit";
import { randomUUID } from "node:crypto";
import { BadMessageError, PreconditionFailedError } from "../errors.ts";
import { encode, type ShardMessage } from "../messages.ts";
import type { Deps } from "../runtime/deps.ts";
import { invocationDeadline } from "../runtime/deps.ts";
import { readJson, writeJson } from "../state/json.ts";
import { writeOnce } from "../state/write-once.ts";
import type { ObjectOutcome, RunRecord, ShardCheckpoint, ShardManifest, ShardResult } from "../state/layout.ts";
import { copyObject } from "../copy/copy-object.ts";
import type { CopyResult, MultipartCheckpoint } from "../copy/types.ts";
import { Lease } from "./lease.ts";
import { indexDestination, nothingKnown } from "./destination-index.ts";
import { indexProofs, writeCopyProof } from "./copy-proofs.ts";
import { isUnchangedByListing } from "../copy/skip-checks.ts";
import { describeError } from "../redact.ts";
import { withRetry } from "../retry.ts";
import { failGiant, giantOutcome, isGiant, startGiant } from "./giant.ts";
import { isProgrammingError, refusal } from "../copy/copy-object.ts";
import { errorClassOf } from "../copy/copy-run.ts";
import { withSourceNotes } from "../copy/source-notes.ts";
import { storageClassMapOf } from "../copy/storage-class.ts";

export type ShardOutcome = "done" | "continued" | "already-done" | "busy" | "waiting";

function toOutcome(source: string, r: Exclude<CopyResult, { outcome: "interrupted" }>): ObjectOutcome {
  switch (r.outcome) {
    case "copied":
      return { key: r.key, source, size: r.size, outcome: "copied", md5: r.md5, verifiedBy: r.verifiedBy, warnings: r.warnings.length ? r.warnings : undefined, retries: r.retries || undefined };
    case "skipped":
      return { key: r.key, source, size: r.size, outcome: "skipped", reason: r.reason, md5: r.md5 };
    case "failed":
      return { key: r.key, source, size: r.size, outcome: "failed", code: r.code, reason: r.reason, retries: r.retries || undefined };
  }
}

/**
 * Once a multipart copy has ended, aborts every open upload of `key` but the one
 * its checkpoint keeps: an invocation killed between CreateMultipartUpload and
 * its checkpoint write, or a CreateMultipartUpload applied whose answer was lost
 * and retried, leaves one behind, still billed. The shard's lease makes this
 * invocation the only one copying the key.
 */
async function abortOrphanedUploads(deps: Deps, bucket: string, key: string, keep: string | undefined): Promise<void> {
  try {
    await withRetry(
      async () => {
        for (const u of await deps.sink.listMultipartUploads(bucket, key)) {
          if (u.key === key && u.uploadId !== keep) await deps.sink.abortMultipart(bucket, key, u.uploadId);
        }
      },
      { attempts: deps.tuning.maxAttempts },
    );
  } catch (err) {
    deps.log.warn("orphaned-uploads-not-aborted", { key, error: describeError(err) });
  }
}

/** Identifies this process in lease owners: `${PROCESS_ID}/${invocation}`. */
export const PROCESS_ID = randomUUID().slice(0, 8);

export interface ShardOptions {
  /** Take over live leases held by other processes (a local run resuming after a crash). */
  takeOverForeignLeases?: boolean;
}

export async function runShard(deps: Deps, msg: ShardMessage, options: ShardOptions = {}): Promise<ShardOutcome> {
  const startedAt = deps.now();
  const store = deps.state(msg.stateBucket);
  const keys = deps.layout.run(msg.runId);
  const shardDone = () => deps.bus.send({ kind: "control" }, [encode({ v: 1, type: "shard-done", runId: msg.runId, stateBucket: msg.stateBucket, shardId: msg.shardId })]);

  // Read together (one round trip, not three); a result found makes the other two moot.
  const [done, run, stored] = await Promise.all([store.get(keys.result(msg.shardId)), readJson<RunRecord>(store, keys.record), readJson<ShardManifest>(store, keys.shard(msg.shardId))]);
  if (done) {
    await shardDone();
    return "already-done";
  }
  if (!run) throw new BadMessageError(`run ${msg.runId} does not exist in bucket ${msg.stateBucket}`, { context: { runId: msg.runId } });
  const manifest = stored?.value;
  if (!manifest) throw new BadMessageError(`shard ${msg.shardId} of run ${msg.runId} has no manifest`, { context: { runId: msg.runId } });

  const owner = `${PROCESS_ID}/${randomUUID().slice(0, 8)}`;
  const lease = new Lease(store, keys.lease(msg.shardId), owner, deps.functionTimeoutMs + deps.deadlineMarginMs, deps.now);
  const foreign = (o: string) => !!options.takeOverForeignLeases && !o.startsWith(`${PROCESS_ID}/`);
  if (!(await lease.acquire({ takeOverFrom: foreign }))) {
    deps.log.info("shard-busy", { runId: msg.runId, shardId: msg.shardId });
    return "busy";
  }

  const force = run.value.request.options.force;
  // The checkpoint and the destination's listing of every key of the shard (those done included), together.
  const [loaded, known] = await Promise.all([
    readJson<ShardCheckpoint>(store, keys.checkpoint(msg.shardId)),
    force
      ? nothingKnown()
      : indexDestination(deps.sink, manifest.bucket, manifest.keys, { attempts: deps.tuning.maxAttempts }).catch((err) => {
          deps.log.warn("destination-listing-failed", { runId: msg.runId, shardId: msg.shardId, error: describeError(err) });
          return nothingKnown();
        }),
  ]);
  const checkpoint: ShardCheckpoint = loaded?.value ?? { runId: msg.runId, shardId: msg.shardId, continuation: 0, done: {}, uploads: {}, updatedAt: "" };
  checkpoint.continuation = msg.continuation;

  // Checkpoint writes are serialised and coalesced: at most one in flight, one queued.
  let saving: Promise<void> = Promise.resolve();
  let dirty = false;
  let lastSave = 0;
  let queued = false;
  /**
   * At most one checkpoint write a second (a forced one at once: a new upload
   * id, the end). Only the caller that queued a write waits for it; the others
   * go on copying, their objects written by the next one (a crash before it
   * costs a HEAD or a listing entry per object on resume, never a wrong skip).
   * A lost lease fails the queued write and every later one.
   */
  const save = (force = false): Promise<void> => {
    dirty = true;
    if (!force && (queued || deps.now() - lastSave < 1000)) return Promise.resolve();
    queued = true;
    lastSave = deps.now();
    saving = saving.then(async () => {
      queued = false;
      if (!dirty) return;
      dirty = false;
      lastSave = deps.now();
      checkpoint.updatedAt = new Date(lastSave).toISOString();
      await writeJson(store, keys.checkpoint(msg.shardId), checkpoint);
      if (!(await lease.renew())) throw new PreconditionFailedError(`lease of shard ${msg.shardId} was taken over`);
    });
    return saving;
  };

  const classMap = storageClassMapOf(run.value.request.options) ?? deps.storageClassMap;
  // Giant objects take their class at CreateMultipartUpload, in startGiant.
  const giantDeps = classMap === deps.storageClassMap ? deps : { ...deps, storageClassMap: classMap };
  const deadline = invocationDeadline(deps, startedAt);
  const requireImmutability = run.value.request.options.requireImmutability;
  const objectLockAvailable = run.value.destinationObjectLock;
  const limit = pLimit(run.value.request.options.concurrency ?? deps.tuning.objectConcurrency);
  const pending = manifest.blobs.map((_, i) => i).filter((i) => !checkpoint.done[i]);
  // Keys the destination listing shows with the blob's size but can not decide alone: their copy proofs, listed once.
  const undecided = pending.flatMap((i) => {
    const key = manifest.keys[i]!;
    const listed = known.listed.get(key);
    return listed && listed.size === manifest.blobs[i]!.size && !isUnchangedByListing(manifest.blobs[i]!, listed, deps.sink.etagsAreMd5) ? [key] : [];
  });
  const proofs = await indexProofs(store, deps.layout.proofs(manifest.bucket), undecided, { attempts: deps.tuning.maxAttempts }).catch((err) => {
    deps.log.warn("copy-proofs-listing-failed", { runId: msg.runId, shardId: msg.shardId, error: describeError(err) });
    return new Map<string, Set<string>>();
  });
  /** Objects of `pending` done in this invocation; the last one's checkpoint is its shard's result. */
  let finished = 0;
  const saveUnlessLast = () => (++finished === pending.length ? Promise.resolve() : save());
  let interrupted = false;
  let delegated = 0;
  let started = 0;
  try {
    await Promise.all(
      pending.map((i) =>
        limit(async () => {
          // The first object of an invocation starts whatever the clock says: every invocation moves forward.
          const first = started++ === 0;
          if (!first && (deadline.signal.aborted || deadline.nearing())) {
            interrupted = true;
            return;
          }
          const blob = manifest.blobs[i]!;
          const key = manifest.keys[i]!;
          const t0 = deps.now();
          if (isGiant(deps, blob) && !refusal(blob, key, { requireImmutability, objectLockAvailable })) {
            // Copied in parallel by range messages; the range that completes it sends this shard back.
            // A failure that is not transient ends the object, never the shard: it would answer 500 forever.
            const outcome = await (async () =>
              (await giantOutcome(deps, msg.stateBucket, msg.runId, msg.shardId, i)) ?? (await startGiant(giantDeps, msg.stateBucket, manifest, i, force, { absent: known.absent.has(key), listed: known.listed.get(key), proofs: proofs.get(key) })))().catch((err) => {
              if (errorClassOf(err) === "retryable" || isProgrammingError(err)) throw err;
              return failGiant(deps, msg.stateBucket, manifest, i, err);
            });
            if (!outcome) {
              delegated++;
              return;
            }
            checkpoint.done[i] = withSourceNotes(blob, outcome, objectLockAvailable);
            deps.log.info("object", { runId: msg.runId, shardId: msg.shardId, key, outcome: outcome.outcome, bytes: outcome.size, giant: true });
            await saveUnlessLast();
            return;
          }
          const result = await copyObject(
            deps.source,
            deps.sink,
            { container: manifest.container, blob, bucket: manifest.bucket, key },
            {
              tuning: deps.tuning,
              signal: deadline.signal,
              checkpoint: checkpoint.uploads[i],
              onCheckpoint: async (cp: MultipartCheckpoint) => {
                // A new upload id is written at once, not coalesced: a crash must find it to resume or abort it.
                const fresh = checkpoint.uploads[i]?.uploadId !== cp.uploadId;
                checkpoint.uploads[i] = cp;
                await save(fresh);
              },
              onProgress: deps.onProgress,
              storageClassMap: classMap,
              force,
              memory: deps.memory,
              mustProgress: first,
              requireImmutability,
              sourceMd5: run.value.request.options.sourceMd5,
              knownAbsent: known.absent.has(key),
              listed: known.listed.get(key),
              proofs: proofs.get(key),
              verifyReadback: run.value.request.options.verifyReadback,
              objectLockAvailable,
            },
          );
          // An object skipped as unchanged with no upload on record started none here: no sweep, no request
          // (a re-run over unchanged data stays within its listings). The run's end sweeps its own leftovers.
          const sweep =
            blob.size >= deps.tuning.multipartThreshold && (result.outcome !== "skipped" || checkpoint.uploads[i])
              ? abortOrphanedUploads(deps, manifest.bucket, key, result.outcome === "interrupted" ? result.checkpoint?.uploadId : undefined)
              : undefined;
          if (result.outcome === "interrupted") {
            await sweep;
            interrupted = true;
            if (result.checkpoint) checkpoint.uploads[i] = result.checkpoint;
            else delete checkpoint.uploads[i];
            return;
          }
          // The copy proof goes with the sweep (it never fails: a failure is logged). A blob that changed mid-copy
          // was copied in a version the manifest does not hold: no proof (the next run HEADs it). A HEAD decided:
          // a proof spares the next run that HEAD.
          const proofEtag = result.outcome === "copied" && result.sourceEtag === blob.etag ? result.etag : result.outcome === "skipped" ? result.headEtag : undefined;
          await Promise.all([sweep, proofEtag ? writeCopyProof(deps, msg.stateBucket, manifest.bucket, key, blob, proofEtag) : undefined]);
          checkpoint.done[i] = withSourceNotes(blob, toOutcome(blob.name, result), objectLockAvailable);
          delete checkpoint.uploads[i];
          deps.log.info("object", {
            runId: msg.runId,
            shardId: msg.shardId,
            key,
            outcome: result.outcome,
            bytes: result.size,
            durationMs: deps.now() - t0,
            ...(result.outcome === "failed" ? { code: result.code, reason: result.reason } : {}),
          });
          await saveUnlessLast();
        }),
      ),
    );
    // A shard that finished in this invocation goes straight to its result: no checkpoint first.
    if (finished === pending.length) await saving;
    else await save(true);
  } finally {
    deadline.dispose();
  }

  if (delegated > 0) {
    // A giant may have completed while this invocation ran (its message to this shard then found it busy).
    for (let i = 0; i < manifest.blobs.length; i++) {
      if (checkpoint.done[i] || !isGiant(deps, manifest.blobs[i]!)) continue;
      const outcome = await giantOutcome(deps, msg.stateBucket, msg.runId, msg.shardId, i);
      if (outcome) {
        checkpoint.done[i] = withSourceNotes(manifest.blobs[i]!, outcome, objectLockAvailable);
        delegated--;
      }
    }
    await save(true);
  }
  const remaining = manifest.blobs.length - Object.keys(checkpoint.done).length;
  if (!interrupted && remaining > 0 && remaining === delegated) {
    // Only giant objects are left, in the hands of their range workers.
    await lease.release();
    deps.log.info("shard-waiting", { runId: msg.runId, shardId: msg.shardId, giants: delegated });
    return "waiting";
  }
  if (interrupted || remaining > 0) {
    await deps.bus.send({ kind: "worker", index: manifest.queue }, [encode({ ...msg, continuation: msg.continuation + 1 })]);
    await lease.release();
    deps.log.info("shard-continued", { runId: msg.runId, shardId: msg.shardId, remaining, continuation: msg.continuation + 1 });
    return "continued";
  }
  const result: ShardResult = {
    runId: msg.runId,
    shardId: msg.shardId,
    objects: manifest.blobs.map((_, i) => checkpoint.done[i]!),
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(deps.now()).toISOString(),
    invocations: msg.continuation + 1,
  };
  await writeOnce(store, keys.result(msg.shardId), result);
  await shardDone();
  await lease.release();
  deps.log.info("shard-done", {
    runId: msg.runId,
    shardId: msg.shardId,
    objects: result.objects.length,
    failed: result.objects.filter((o) => o.outcome === "failed").length,
    durationMs: deps.now() - startedAt,
  });
  return "done";
}
