/** Progress of a run, read from the state store only (works for local and deployed runs). */
import type { StateStore } from "../ports.ts";
import { readJson } from "./json.ts";
import { groupsOf, shardId, type DoneGroup, type ListingCursor, type OutcomeCounts, type RunRecord, type RunReport, type ShardCheckpoint, type StateLayout } from "./layout.ts";

/** Runs of up to this many shards also count the objects of shards in progress. */
const CHECKPOINTS_READ_UP_TO = 200;

export interface RunStatus {
  runId: string;
  state: "listing" | "copying" | "finished";
  report?: RunReport;
  shards: { planned: number; done: number; listingDone: boolean };
  objects: { planned: number; copied: number; skipped: number; failed: number };
  bytes: { planned: number; copied: number };
  elapsedSeconds: number;
  bytesPerSecond: number;
  etaSeconds?: number;
}

export async function runStatus(store: StateStore, layout: StateLayout, runId: string, now = Date.now()): Promise<RunStatus | undefined> {
  const keys = layout.run(runId);
  const record = await readJson<RunRecord>(store, keys.record);
  if (!record) return undefined;
  const report = (await readJson<RunReport>(store, keys.report))?.value;
  const cursor = (await readJson<ListingCursor>(store, keys.listing))?.value;
  const planned = cursor?.nextShardIndex ?? 0;
  const objects = { planned: cursor?.planned.objects ?? 0, copied: 0, skipped: 0, failed: 0 };
  const bytes = { planned: cursor?.planned.bytes ?? 0, copied: 0 };
  let done = 0;
  if (report) {
    Object.assign(objects, { copied: report.objects.copied, skipped: report.objects.skipped, failed: report.objects.failed });
    bytes.copied = report.bytes.copied;
    done = report.shards;
  } else {
    // Done shards from their group objects (one read per thousand shards); shards in progress from their
    // checkpoints while the run is small enough for that to stay cheap.
    const soFar = await doneSoFar({ layout }, store, runId, planned);
    done = soFar.shards;
    objects.copied = soFar.counts.copied;
    objects.skipped = soFar.counts.skipped;
    objects.failed = soFar.counts.failed;
    bytes.copied = soFar.counts.bytesCopied;
    if (planned <= CHECKPOINTS_READ_UP_TO) {
      for (let i = 0; i < planned; i++) {
        if (await store.get(keys.result(shardId(i)))) continue;
        const checkpoint = (await readJson<ShardCheckpoint>(store, keys.checkpoint(shardId(i))))?.value;
        for (const o of Object.values(checkpoint?.done ?? {})) {
          if (o.outcome === "copied") {
            objects.copied++;
            bytes.copied += o.size;
          } else if (o.outcome === "skipped") objects.skipped++;
          else if (o.outcome === "failed") objects.failed++;
        }
      }
    }
  }
  const started = Date.parse(cursor?.startedAt ?? record.value.createdAt);
  const end = report ? Date.parse(report.finishedAt) : now;
  const elapsedSeconds = Math.max(0.001, (end - started) / 1000);
  const bytesPerSecond = bytes.copied / elapsedSeconds;
  const remaining = bytes.planned - bytes.copied;
  return {
    runId,
    state: report ? "finished" : cursor?.done ? "copying" : "listing",
    report,
    shards: { planned, done, listingDone: !!cursor?.done },
    objects,
    bytes,
    elapsedSeconds,
    bytesPerSecond,
    etaSeconds: !report && bytesPerSecond > 0 && cursor?.done ? remaining / bytesPerSecond : undefined,
  };
}

/** Counts of the shards done so far, from the group objects (the status read model). */
export async function doneSoFar(deps: { layout: StateLayout }, store: StateStore, runId: string, plannedShards: number): Promise<{ shards: number; counts: OutcomeCounts }> {
  const keys = deps.layout.run(runId);
  const out = { shards: 0, counts: { copied: 0, skipped: 0, failed: 0, bytesCopied: 0 } };
  for (let g = 0; g < groupsOf(plannedShards); g++) {
    const group = (await readJson<DoneGroup>(store, keys.doneGroup(g)))?.value;
    if (!group) continue;
    out.shards += group.shards.length;
    out.counts.copied += group.counts.copied;
    out.counts.skipped += group.counts.skipped;
    out.counts.failed += group.counts.failed;
    out.counts.bytesCopied += group.counts.bytesCopied;
  }
  return out;
}
