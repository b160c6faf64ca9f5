/**
 * Turns shard results into the run report and the per-object ledger, once the
 * listing is finished and every shard is done (completion.ts says so in O(1)).
 * Each shard result is read once; the ledger is streamed into the state bucket
 * in parts, and the report keeps counts, counts per reason and the first
 * REPORT_SAMPLE failures and warnings (the ledger has them all), so memory is
 * the same for a thousand objects or a hundred million. The work advances a
 * cursor under conditional writes: two invocations racing cost one part of
 * work at most, and an invocation near its deadline hands the rest to a
 * continue-aggregation message. The report is written once (If-None-Match).
 */
import { PreconditionFailedError } from "../errors.ts";
import { encode } from "../messages.ts";
import type { Deps } from "../runtime/deps.ts";
import { invocationDeadline } from "../runtime/deps.ts";
import { parseJson, readJson, writeJson } from "../state/json.ts";
import { LedgerText } from "../state/ledger-text.ts";
import { writeOnce } from "../state/write-once.ts";
import { readAhead } from "../state/read-ahead.ts";
import { AGGREGATION_READ_AHEAD } from "../limits.ts";
import { abortLeftoverUploads } from "./leftover-uploads.ts";
import { runComplete } from "./completion.ts";
import {
  shardId,
  type AggregationCursor,
  type AttemptMarker,
  type LedgerEntry,
  type ListingCursor,
  type RunRecord,
  type RunReport,
  type ShardManifest,
  type ShardResult,
} from "../state/layout.ts";
import { deleteExtraneous } from "./extraneous.ts";
import { CostAccumulator, DEFAULT_PRICES, type CostPrices } from "./cost.ts";
import { storageClassMapOf } from "../copy/storage-class.ts";
import { describeError } from "../redact.ts";
import { olderVersionsWarning, withSourceNotes } from "../copy/source-notes.ts";
import { ACLS_NOT_CARRIED } from "../azure/hierarchical.ts";

/** Failures and warnings listed in the report itself; all of them are in the ledger. */
export const REPORT_SAMPLE = 1000;

/** Ledger part size: the configured minimum, larger for runs whose ledger would need more than 900 parts of it. */
export function ledgerPartBytes(plannedObjects: number, minimum: number): number {
  return Math.max(minimum, Math.ceil((plannedObjects * 600) / 900));
}

type Deadline = Pick<ReturnType<typeof invocationDeadline>, "nearing">;

function newCursor(deps: Deps): AggregationCursor {
  return {
    seq: 0,
    nextShard: 0,
    objects: { copied: 0, skipped: 0, failed: 0 },
    bytesCopied: 0,
    retries: 0,
    failures: [],
    failureExamples: {},
    failuresTotal: 0,
    failuresByReason: {},
    warnings: [],
    warningsTotal: 0,
    ledger: { parts: [], pending: "" },
    updatedAt: new Date(deps.now()).toISOString(),
    invocations: 0,
  };
}

function add(c: AggregationCursor, e: LedgerEntry): void {
  c.retries += e.retries ?? 0;
  for (const w of e.warnings ?? []) {
    c.warningsTotal++;
    if (c.warnings.length < REPORT_SAMPLE) c.warnings.push({ key: e.key, warning: w });
  }
  if (e.outcome === "copied") {
    c.objects.copied++;
    c.bytesCopied += e.size;
  } else if (e.outcome === "skipped") c.objects.skipped++;
  else if (e.outcome === "failed") {
    c.objects.failed++;
    c.failuresTotal++;
    const code = e.code ?? "unknown";
    const failure = { key: e.key, reason: e.reason ?? "unknown" };
    if (c.failures.length < REPORT_SAMPLE) c.failures.push(failure);
    const examples = (c.failureExamples[code] ??= []);
    if (examples.length < 3) examples.push(failure);
    c.failuresByReason[code] = (c.failuresByReason[code] ?? 0) + 1;
  }
}

/**
 * The run's report: the one stored, or built once every shard is done (else
 * undefined). `known.complete`: the caller has just seen the last shard
 * marked done, so the done index is not read again.
 */
export async function aggregate(deps: Deps, runId: string, stateBucket: string, deadline?: Deadline, known: { complete?: boolean } = {}): Promise<RunReport | undefined> {
  const store = deps.state(stateBucket);
  const keys = deps.layout.run(runId);
  // One round trip instead of three (each is one over a WAN); the listing and the record are read
  // for nothing only when the report already exists.
  const [existing, listing, run] = await Promise.all([
    readJson<RunReport>(store, keys.report),
    readJson<ListingCursor>(store, keys.listing),
    readJson<RunRecord>(store, keys.record),
  ]);
  if (existing) return existing.value;
  if (!listing?.value.done || !run) return undefined;
  const dryRun = run.value.request.options.dryRun;
  if (!dryRun && !known.complete && !(await runComplete(deps, runId, stateBucket, listing.value))) return undefined;
  const own = deadline ? undefined : invocationDeadline(deps);
  try {
    return await build(deps, run.value, listing.value, stateBucket, deadline ?? own!);
  } finally {
    own?.dispose();
  }
}

async function build(deps: Deps, run: RunRecord, listing: ListingCursor, stateBucket: string, deadline: Deadline): Promise<RunReport | undefined> {
  const store = deps.state(stateBucket);
  const runId = run.runId;
  const keys = deps.layout.run(runId);
  const dryRun = run.request.options.dryRun;
  const shards = listing.nextShardIndex;
  const partBytes = ledgerPartBytes(listing.planned.objects, deps.tuning.ledgerPartBytes);

  // Most runs are aggregated in one invocation: the cursor is created at once, and only read when it exists.
  const fresh = newCursor(deps);
  const written = await writeOnce(store, keys.aggregation, fresh);
  const loaded = written.created ? { value: fresh, etag: written.etag } : await readJson<AggregationCursor>(store, keys.aggregation);
  if (!loaded) return undefined;
  const c = loaded.value;
  let etag = loaded.etag;
  c.invocations++;
  /** Saves the cursor; false when another invocation advanced it first (it carries on). */
  const save = async (): Promise<boolean> => {
    c.seq++;
    c.updatedAt = new Date(deps.now()).toISOString();
    try {
      etag = (await writeJson(store, keys.aggregation, c, { ifMatch: etag })).etag;
      return true;
    } catch (err) {
      if (err instanceof PreconditionFailedError) return false;
      throw err;
    }
  };

  const classMap = storageClassMapOf(run.request.options);
  const cost = dryRun ? new CostAccumulator(deps.tuning, (b) => (b.accessTier ? classMap?.[b.accessTier] : undefined) ?? classMap?.["*"] ?? "STANDARD", c.cost) : undefined;
  // The ledger's text not yet in a part: bytes while this invocation runs, a string in the cursor it saves.
  const pending = new LedgerText(c.ledger.pending);
  /** Saves the cursor with the cost and the pending ledger text so far; false when another invocation advanced it first. */
  const saveAll = async (): Promise<boolean> => {
    if (cost) c.cost = cost.state();
    c.ledger.pending = pending.text();
    return save();
  };
  /** Writes the pending ledger text as the upload's next part. */
  const putPendingPart = async (uploadId: string) => {
    const partNumber = c.ledger.parts.length + 1;
    const { etag } = await store.putPart(keys.ledger, uploadId, partNumber, pending.bytes());
    c.ledger.parts.push({ partNumber, etag });
    pending.clear();
  };
  // A dry run's ledger comes from the manifests, a copy's from the shards' results; read a few shards ahead.
  // Read ahead as text and parsed one at a time: a parsed manifest takes about three times the memory of its text.
  const reads = readAhead(c.nextShard, shards, AGGREGATION_READ_AHEAD, async (i) => {
    const key = dryRun ? keys.shard(shardId(i)) : keys.result(shardId(i));
    const o = await store.get(key);
    return o && { key, o };
  });
  for (let i = c.nextShard; i < shards; i++) {
    const fetched = (await reads.next()).value;
    if (!fetched) return undefined;
    const read = parseJson<ShardManifest | ShardResult>(fetched.key, fetched.o);
    let entries: LedgerEntry[];
    if (dryRun) {
      const m = read.value as ShardManifest;
      for (const b of m.blobs) cost?.add(b);
      entries = m.blobs.map((b, j) => withSourceNotes(b, { key: m.keys[j]!, source: b.name, size: b.size, outcome: "planned" as const, md5: b.contentMd5 }, !!run.destinationObjectLock));
    } else {
      entries = (read.value as ShardResult).objects;
    }
    let lines = "";
    for (const e of entries) {
      add(c, e);
      lines += JSON.stringify(e) + "\n";
    }
    pending.add(lines);
    c.nextShard = i + 1;
    if (pending.byteLength >= partBytes) {
      if (!c.ledger.uploadId) {
        // The upload id is saved before any part, so an upload this invocation starts is never unknown.
        const uploadId = await store.startMultipart(keys.ledger);
        c.ledger = { uploadId, parts: [], pending: "" };
        if (!(await saveAll())) {
          await store.abortMultipart(keys.ledger, uploadId);
          return undefined;
        }
      }
      await putPendingPart(c.ledger.uploadId!);
      if (!(await saveAll())) return undefined;
    }
    if (deadline.nearing() && i + 1 < shards) {
      if (await saveAll()) await deps.bus.send({ kind: "control" }, [encode({ v: 1, type: "continue-aggregation", runId, stateBucket })]);
      deps.log.info("aggregation-continued", { runId, nextShard: c.nextShard, shards });
      return undefined;
    }
  }
  let deletions: RunReport["deletions"];
  const cutoverFailures: Array<{ key: string; reason: string }> = [];
  if (run.request.options.deleteExtraneous) {
    const cut = await cutover(deps, run, stateBucket, dryRun, c.objects.failed);
    deletions = cut.summary;
    for (const e of cut.entries) pending.add(JSON.stringify(e) + "\n");
    for (const f of cut.failures) {
      cutoverFailures.push({ key: f.key, reason: f.reason });
      c.failuresByReason[f.code] = (c.failuresByReason[f.code] ?? 0) + 1;
    }
  }

  // Every shard is read: the ledger is finished (one object, or the parts completed), then the report.
  const finishLedger = async () => {
    if (c.ledger.uploadId) {
      if (pending.byteLength > 0) await putPendingPart(c.ledger.uploadId);
      await store.completeMultipart(keys.ledger, c.ledger.uploadId, c.ledger.parts);
    } else {
      await store.put(keys.ledger, pending.text());
    }
  };
  // Every shard has its result: no copy of this run is in flight, so what is still open is litter.
  // The sweep never touches the state prefix (the ledger's own upload), so the two go together,
  // with the read of the attempt marker the report needs.
  const [, leftover, marker] = await Promise.all([
    finishLedger(),
    dryRun ? { aborted: 0, failed: 0 } : abortLeftoverUploads(deps, run),
    readJson<AttemptMarker>(store, keys.nextAttempt),
  ]);
  const source = `azure://${run.request.source.container}/${run.request.source.prefix}`;
  const directories = listing.directories ?? 0;
  const olderVersions = listing.olderVersions ?? 0;
  // Run-wide warnings first, once each, under the source location; then the objects' own.
  const runWarnings = [
    ...(listing.sourceWarnings ?? []),
    ...(directories > 0 ? [ACLS_NOT_CARRIED] : []),
    ...(olderVersions > 0 ? [olderVersionsWarning(olderVersions)] : []),
    ...(leftover.failed > 0 ? [`${leftover.failed} open multipart upload(s) of this run could not be aborted: abort them or re-run with the same --run-id`] : []),
  ];
  const warnings: RunReport["warnings"] = [...runWarnings.map((warning) => ({ key: source, warning })), ...c.warnings];
  const finishedAt = new Date(deps.now());
  const startedAt = new Date(listing.startedAt);
  const durationSeconds = Math.max(0.001, (finishedAt.getTime() - startedAt.getTime()) / 1000);
  const request = run.request;
  const report: RunReport = {
    runId,
    status: c.objects.failed > 0 || cutoverFailures.length > 0 ? "failed" : "succeeded",
    dryRun,
    source,
    destination: `s3://${request.destination.bucket}/${request.destination.prefix}`,
    objects: { planned: listing.planned.objects, ...c.objects, archived: listing.archived, filteredOut: listing.filteredOut, directories, olderVersions },
    bytes: { planned: listing.planned.bytes, copied: c.bytesCopied },
    failures: [...c.failures, ...cutoverFailures],
    failuresOmitted: c.failuresTotal - c.failures.length,
    failureExamples: c.failureExamples,
    failuresByReason: c.failuresByReason,
    warnings,
    warningsOmitted: c.warningsTotal - c.warnings.length,
    retries: c.retries,
    uploadsAborted: leftover.aborted,
    attempt: marker?.value.attempt ?? 1,
    previousAttempts: Array.from({ length: (marker?.value.attempt ?? 1) - 1 }, (_, n) => `s3://${stateBucket}/${keys.attempt(n + 1).report}`),
    shards,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds,
    throughputBytesPerSecond: Math.round(c.bytesCopied / durationSeconds),
    ledger: `s3://${stateBucket}/${keys.ledger}`,
    ...(deletions ? { deletions } : {}),
    ...(cost
      ? {
          estimate: cost.estimate(listing.planned.objects + listing.filteredOut + listing.archived, deps.tuning.listPageSize, {
            ...DEFAULT_PRICES,
            ...request.options.prices,
            storagePerGiBMonth: { ...DEFAULT_PRICES.storagePerGiBMonth, ...request.options.prices?.storagePerGiBMonth },
          } as CostPrices),
        }
      : {}),
  };
  if (!(await writeOnce(store, keys.report, report)).created) return (await readJson<RunReport>(store, keys.report))?.value;
  await store.delete(deps.layout.active(runId)).catch(() => undefined);
  deps.log.info("run-finished", { runId, status: report.status, ...report.objects, bytesCopied: report.bytes.copied, durationSeconds });
  return report;
}

/**
 * The `--delete-extraneous` pass, run once every object has its outcome: only
 * when none failed, and never more than the plan allows. Its failures end up
 * in the report's failures (the run then exits 1).
 */
async function cutover(deps: Deps, record: RunRecord, stateBucket: string, dryRun: boolean, failedObjects: number) {
  const failures: Array<{ key: string; reason: string; code: string }> = [];
  const summary: NonNullable<RunReport["deletions"]> = { deleted: 0, failed: 0, unmanagedKept: 0, ...(dryRun ? { wouldDelete: [] as string[] } : {}) };
  if (failedObjects > 0 && !dryRun) {
    summary.skipped = `nothing deleted: ${failedObjects} object(s) failed`;
    return { summary, entries: [], failures };
  }
  try {
    const out = await deleteExtraneous(deps, record, stateBucket, dryRun);
    summary.unmanagedKept = out.unmanagedKept;
    if (out.refused) {
      summary.skipped = out.refused;
      failures.push({ key: record.request.destination.prefix || "(destination)", reason: `--delete-extraneous: ${out.refused}`, code: "max-delete" });
    }
    for (const e of out.entries) {
      if (e.outcome === "deleted") summary.deleted++;
      else if (e.outcome === "would-delete") summary.wouldDelete!.push(e.key);
      else {
        summary.failed++;
        failures.push({ key: e.key, reason: `delete failed: ${e.reason ?? "refused"}`, code: "delete-failed" });
      }
    }
    return { summary, entries: out.entries, failures };
  } catch (err) {
    const reason = `--delete-extraneous: ${describeError(err)}; nothing deleted`;
    summary.skipped = reason;
    failures.push({ key: record.request.destination.prefix || "(destination)", reason, code: "cutover-failed" });
    return { summary, entries: [], failures };
  }
}
