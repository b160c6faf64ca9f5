/**
 * Giant objects: one multipart upload whose part ranges go out as separate
 * messages, so that many invocations copy one object in parallel.
 *
 * - The shard's worker starts the upload once (the state object is written with
 *   If-None-Match; a loser aborts its own upload and joins the winner's), sends
 *   one range message per part range, and leaves the object to them.
 * - A range worker uploads the missing parts of its range (ListParts tells what
 *   an earlier attempt stored), each part's MD5 checked against the ETag the
 *   server returns, then records the range's parts (If-None-Match). Before its
 *   deadline it hands the rest of the range to a new message.
 * - The range that finds every range recorded claims completion (If-None-Match
 *   on complete.json): it completes the upload once, verifies size and the
 *   multipart ETag computed from the part MD5s, sets the tags, writes the
 *   object's outcome and sends the shard its message back.
 *
 * The whole-object MD5 can not be computed across invocations (a hash state
 * does not travel); every byte is still hashed by us (part MD5s, compared with
 * the server's), and the multipart ETag proves the object is those parts in order.
 */
import { createHash, randomUUID } from "node:crypto";
import { encode, type RangeMessage } from "../messages.ts";
import type { BlobEntry } from "../ports.ts";
import type { Deps } from "../runtime/deps.ts";
import { invocationDeadline } from "../runtime/deps.ts";
import { readJson } from "../state/json.ts";
import { writeOnce } from "../state/write-once.ts";
import type { GiantState, ObjectOutcome, RangeResult, RunRecord, ShardManifest } from "../state/layout.ts";
import { planParts } from "../copy/planner.ts";
import { isUnchanged, isUnchangedByProof } from "../copy/skip-checks.ts";
import { writeCopyProof } from "./copy-proofs.ts";
import { mapBlobToObject } from "../copy/metadata.ts";
import { CopyRun, errorClassOf, failureCode, reasonOf } from "../copy/copy-run.ts";
import { readRange } from "../copy/read-range.ts";
import { PART_BUFFERS } from "../copy/buffer-pool.ts";
import { completeUpload, uploadCheckedPart, verifyCompleted } from "../copy/multipart-upload.ts";
import { PartScheduler } from "../copy/part-scheduler.ts";
import { readBack } from "../copy/readback.ts";
import { describeError } from "../redact.ts";

export function isGiant(deps: Deps, blob: BlobEntry): boolean {
  return blob.size >= deps.tuning.giantObjectThreshold && blob.size >= deps.tuning.multipartThreshold;
}

function copyRun(deps: Deps, manifest: ShardManifest, index: number, signal?: AbortSignal): CopyRun {
  return new CopyRun(
    deps.source,
    deps.sink,
    { container: manifest.container, blob: manifest.blobs[index]!, bucket: manifest.bucket, key: manifest.keys[index]! },
    { tuning: deps.tuning, signal, memory: deps.memory, onProgress: deps.onProgress, storageClassMap: deps.storageClassMap },
  );
}

function rangeMessages(runId: string, stateBucket: string, shardId: string, object: number, ranges: number): string[] {
  return Array.from({ length: ranges }, (_, range) => encode({ v: 1, type: "range", runId, stateBucket, shardId, object, range }));
}

/** The outcome of a giant object when its copy has ended, else undefined. */
export async function giantOutcome(deps: Deps, stateBucket: string, runId: string, shardId: string, index: number): Promise<ObjectOutcome | undefined> {
  return (await readJson<ObjectOutcome>(deps.state(stateBucket), deps.layout.run(runId).giant(shardId, index).outcome))?.value;
}

/**
 * Starts (or re-announces) the parallel copy of a giant object. Returns the
 * outcome when the object needs no copy (unchanged), else undefined: the
 * object is then in the hands of its range workers.
 */
export async function startGiant(
  deps: Deps,
  stateBucket: string,
  manifest: ShardManifest,
  index: number,
  force: boolean,
  known: { absent?: boolean; listed?: { size: number; etag: string }; proofs?: ReadonlySet<string> } = {},
): Promise<ObjectOutcome | undefined> {
  const store = deps.state(stateBucket);
  const keys = deps.layout.run(manifest.runId).giant(manifest.shardId, index);
  const blob = manifest.blobs[index]!;
  const key = manifest.keys[index]!;
  const run = copyRun(deps, manifest, index);
  let state = (await readJson<GiantState>(store, keys.state))?.value;
  if (!state) {
    if (!force && !known.absent) {
      // The shard's listings first (a giant's ETag is a multipart one: only a copy proof decides), then a HEAD.
      const proven = known.listed && isUnchangedByProof(blob, known.listed, deps.sink.customerKeyMd5, known.proofs);
      if (proven) return { key, source: blob.name, size: blob.size, outcome: "skipped", reason: `unchanged: ${proven}` };
      const head = await run.step("HeadObject", () => deps.sink.head(manifest.bucket, key));
      const why = head && isUnchanged(blob, head, deps.sink.customerKeyMd5);
      if (why) {
        await writeCopyProof(deps, stateBucket, manifest.bucket, key, blob, head.etag);
        return { key, source: blob.name, size: blob.size, outcome: "skipped", reason: `unchanged: ${why}` };
      }
    }
    const plan = planParts(blob.size, deps.tuning);
    const perRange = Math.max(1, Math.floor(deps.tuning.giantRangeBytes / plan.partSize));
    const ranges: GiantState["ranges"] = [];
    for (let first = 1; first <= plan.parts.length; first += perRange) ranges.push({ first, last: Math.min(plan.parts.length, first + perRange - 1) });
    const mapped = mapBlobToObject(blob, { storageClassMap: deps.storageClassMap });
    const uploadId = await run.step("CreateMultipartUpload", () => deps.sink.createMultipart(manifest.bucket, key, mapped.headers));
    const candidate: GiantState = { key, uploadId, sourceEtag: blob.etag, size: blob.size, partSize: plan.partSize, parts: plan.parts.length, ranges, createdAt: new Date(deps.now()).toISOString() };
    if ((await writeOnce(store, keys.state, candidate)).created) state = candidate;
    else {
      // Another invocation started it first: ours is not needed.
      await run.abortUpload(key, uploadId);
      state = (await readJson<GiantState>(store, keys.state))!.value;
    }
  }
  // Ranges already recorded need no message; the others are (re)sent: range work is idempotent.
  const pending: string[] = [];
  const all = rangeMessages(manifest.runId, stateBucket, manifest.shardId, index, state.ranges.length);
  for (let r = 0; r < state.ranges.length; r++) if (!(await store.get(keys.range(r)))) pending.push(all[r]!);
  const queues = Math.max(1, deps.bus.workerQueues);
  for (let i = 0; i < pending.length; i++) await deps.bus.send({ kind: "worker", index: (manifest.queue + i) % queues }, [pending[i]!]);
  deps.log.info("giant-started", { runId: manifest.runId, shardId: manifest.shardId, key, parts: state.parts, ranges: state.ranges.length, pending: pending.length });
  return undefined;
}

async function finish(deps: Deps, msg: RangeMessage, manifest: ShardManifest, outcome: ObjectOutcome): Promise<void> {
  const keys = deps.layout.run(msg.runId).giant(msg.shardId, msg.object);
  await writeOnce(deps.state(msg.stateBucket), keys.outcome, outcome);
  // The shard goes on from its checkpoint and records the outcome.
  await deps.bus.send({ kind: "worker", index: manifest.queue }, [encode({ v: 1, type: "shard", runId: msg.runId, stateBucket: msg.stateBucket, shardId: msg.shardId, continuation: 0 })]);
}

export type RangeOutcome = "recorded" | "completed" | "continued" | "already-done" | "failed";

export async function runRange(deps: Deps, msg: RangeMessage, manifest: ShardManifest): Promise<RangeOutcome> {
  const store = deps.state(msg.stateBucket);
  const keys = deps.layout.run(msg.runId).giant(msg.shardId, msg.object);
  if (await store.get(keys.outcome)) return "already-done";
  const state = (await readJson<GiantState>(store, keys.state))?.value;
  const blob = manifest.blobs[msg.object];
  if (!state || !blob || !state.ranges[msg.range]) return "already-done";
  const deadline = invocationDeadline(deps);
  const run = copyRun(deps, manifest, msg.object, deadline.signal);
  const fail = async (err: unknown): Promise<RangeOutcome> => {
    const abortProblem = await run.abortUpload(state.key, state.uploadId);
    await finish(deps, msg, manifest, {
      key: state.key,
      source: blob.name,
      size: blob.size,
      outcome: "failed",
      code: failureCode(err),
      reason: reasonOf(err) + (abortProblem ? `; ${abortProblem}` : ""),
      retries: run.retries || undefined,
    });
    return "failed";
  };
  try {
    if (!(await store.get(keys.range(msg.range)))) {
      const { first, last } = state.ranges[msg.range]!;
      const stored = await run.step("ListParts", () => deps.sink.listParts(manifest.bucket, state.key, state.uploadId));
      if (!stored) throw Object.assign(new Error(`upload of ${state.key} no longer exists`), { name: "NoSuchUpload" });
      const sizeOf = (n: number) => Math.min(state.partSize, state.size - (n - 1) * state.partSize);
      const done = new Map(stored.filter((p) => p.partNumber >= first && p.partNumber <= last && p.size === sizeOf(p.partNumber)).map((p) => [p.partNumber, p]));
      const todo: number[] = [];
      for (let n = first; n <= last; n++) if (!done.has(n)) todo.push(n);
      let failure: { error: unknown } | undefined;
      let startedHere = 0;
      // Every part stops before the first error is acted on: no part is left in flight.
      await new PartScheduler(deps.tuning.partConcurrency).run(todo, {
        // The first part of an invocation starts whatever the clock says: every invocation moves forward.
        stopping: () => failure !== undefined || (startedHere > 0 && (deadline.signal.aborted || deadline.nearing())),
        start: async (n, releaseSlot) => {
          startedHere++;
          const size = sizeOf(n);
          await deps.memory.acquire(size);
          const into = PART_BUFFERS.take(size);
          try {
            if (failure) return;
            const buf = await run.step(`read part ${n}`, () => readRange(deps.source, manifest.container, blob.name, state.sourceEtag, (n - 1) * state.partSize, size, into, { blobType: blob.blobType }));
            const md5 = createHash("md5").update(buf).digest();
            done.set(n, await uploadCheckedPart(run, state.uploadId, n, buf, md5));
            run.emit({ type: "bytes", key: state.key, bytes: size });
          } finally {
            PART_BUFFERS.give(into);
            deps.memory.release(size);
            releaseSlot();
          }
        },
        onError: (error) => (failure ??= { error }),
      });
      if (failure) throw failure.error;
      if (done.size < last - first + 1) {
        await deps.bus.send({ kind: "worker", index: manifest.queue }, [encode(msg)]);
        return "continued";
      }
      const result: RangeResult = { range: msg.range, parts: [...done.values()].sort((a, b) => a.partNumber - b.partNumber), retries: run.retries };
      await writeOnce(store, keys.range(msg.range), result);
    }

    // The range that sees every range recorded completes the object, once.
    const results: RangeResult[] = [];
    for (let r = 0; r < state.ranges.length; r++) {
      const got = await readJson<RangeResult>(store, keys.range(r));
      if (!got) return "recorded";
      results.push(got.value);
    }
    // The claim carries a token of its own: the store takes an identical body for a replay of our own write.
    const claim = { by: msg.range, at: new Date(deps.now()).toISOString(), token: randomUUID() };
    if (!(await writeOnce(store, keys.complete, claim)).created) return "recorded";
    const parts = results.flatMap((r) => r.parts);
    const retries = results.reduce((s, r) => s + r.retries, 0);
    await completeUpload(run, state.uploadId, parts);
    const record = (await readJson<RunRecord>(store, deps.layout.run(msg.runId).record))?.value;
    const mapped = mapBlobToObject(blob, { storageClassMap: deps.storageClassMap, objectLockAvailable: record?.destinationObjectLock });
    const verified = await verifyCompleted(run, parts, mapped, blob.size);
    await writeCopyProof(deps, msg.stateBucket, manifest.bucket, state.key, blob, verified.head.etag);
    const warnings = [...mapped.warnings, ...verified.warnings];
    let verifiedBy = deps.sink.etagsAreMd5 ? "part-md5+multipart-etag+size" : "part-content-md5+sse-c-head-size+markers";
    if (record?.request.options.verifyReadback) {
      // No whole-object MD5 of ours here: read back against the source's Content-MD5 when there is one.
      const back = await readBack(run, { outcome: "copied", key: state.key, size: blob.size, verifiedBy, etag: verified.head.etag, sourceEtag: state.sourceEtag, parts: parts.length, retries: 0, warnings: [] });
      if (back.outcome === "copied") {
        verifiedBy = back.verifiedBy;
        warnings.push(...back.warnings);
      }
    }
    await finish(deps, msg, manifest, {
      key: state.key,
      source: blob.name,
      size: blob.size,
      outcome: "copied",
      verifiedBy,
      warnings: warnings.length ? warnings : undefined,
      retries: retries + run.retries || undefined,
    });
    deps.log.info("giant-completed", { runId: msg.runId, shardId: msg.shardId, key: state.key, parts: parts.length, bytes: blob.size });
    return "completed";
  } catch (err) {
    const cls = errorClassOf(err);
    if (cls === "retryable" && !(deadline.signal.aborted || deadline.nearing())) throw err;
    if (cls === "retryable") {
      await deps.bus.send({ kind: "worker", index: manifest.queue }, [encode(msg)]);
      return "continued";
    }
    deps.log.warn("giant-failed", { runId: msg.runId, shardId: msg.shardId, key: state.key, error: describeError(err) });
    return fail(err);
  } finally {
    deadline.dispose();
  }
}

/**
 * A giant object whose start failed for good (no plan fits, the destination
 * refuses the key...): the failure becomes its outcome, recorded where range
 * workers look first so none goes on, and its upload, if one was opened, is
 * aborted. The shard records the outcome and finishes like any other.
 */
export async function failGiant(deps: Deps, stateBucket: string, manifest: ShardManifest, index: number, err: unknown): Promise<ObjectOutcome> {
  const store = deps.state(stateBucket);
  const keys = deps.layout.run(manifest.runId).giant(manifest.shardId, index);
  const blob = manifest.blobs[index]!;
  const run = copyRun(deps, manifest, index);
  const state = (await readJson<GiantState>(store, keys.state).catch(() => undefined))?.value;
  const abortProblem = state ? await run.abortUpload(state.key, state.uploadId) : undefined;
  const outcome: ObjectOutcome = {
    key: manifest.keys[index]!,
    source: blob.name,
    size: blob.size,
    outcome: "failed",
    code: failureCode(err),
    reason: reasonOf(err) + (abortProblem ? `; ${abortProblem}` : ""),
  };
  if (!(await writeOnce(store, keys.outcome, outcome)).created) {
    // A range worker recorded an outcome first: that one stands.
    return (await giantOutcome(deps, stateBucket, manifest.runId, manifest.shardId, index)) ?? outcome;
  }
  deps.log.warn("giant-failed", { runId: manifest.runId, shardId: manifest.shardId, key: outcome.key, error: outcome.reason });
  return outcome;
}
