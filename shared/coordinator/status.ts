/** Progress of a run, read from the state store only (works for local and deployed runs). */
import type { StateStore } from "../ports.ts";
import { readJson } from "../state/json.ts";
import { shardId, type ListingCursor, type RunRecord, type RunReport, type ShardCheckpoint, type ShardResult, type StateLayout } from "../state/layout.ts";

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
    for (let i = 0; i < planned; i++) {
      const result = (await readJson<ShardResult>(store, keys.result(shardId(i))))?.value;
      const outcomes = result ? result.objects : Object.values((await readJson<ShardCheckpoint>(store, keys.checkpoint(shardId(i))))?.value.done ?? {});
      if (result) done++;
      for (const o of outcomes) {
        if (o.outcome === "copied") {
          objects.copied++;
          bytes.copied += o.size;
        } else if (o.outcome === "skipped") objects.skipped++;
        else if (o.outcome === "failed") objects.failed++;
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
