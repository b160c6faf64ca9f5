/**
 * Turns shard results into the run report and the per-object ledger, once the
 * listing is finished and every shard has its result. The report is written
 * with If-None-Match, so two racing invocations finish the run exactly once.
 */
import type { Deps } from "../runtime/deps.ts";
import { readJson } from "../state/json.ts";
import { writeOnce } from "../state/write-once.ts";
import { abortLeftoverUploads } from "./leftover-uploads.ts";
import { shardId, type AttemptMarker, type LedgerEntry, type ListingCursor, type RunRecord, type RunReport, type ShardManifest, type ShardResult } from "../state/layout.ts";

export async function countResults(deps: Deps, runId: string, stateBucket: string): Promise<number> {
  let n = 0;
  for await (const _ of deps.state(stateBucket).list(deps.layout.run(runId).resultsPrefix)) n++;
  return n;
}

export async function aggregate(deps: Deps, runId: string, stateBucket: string): Promise<RunReport | undefined> {
  const store = deps.state(stateBucket);
  const keys = deps.layout.run(runId);
  const existing = await readJson<RunReport>(store, keys.report);
  if (existing) return existing.value;
  const cursor = await readJson<ListingCursor>(store, keys.listing);
  const run = await readJson<RunRecord>(store, keys.record);
  if (!cursor?.value.done || !run) return undefined;
  const request = run.value.request;
  const dryRun = request.options.dryRun;
  const shards = cursor.value.nextShardIndex;
  if (!dryRun && (await countResults(deps, runId, stateBucket)) < shards) return undefined;

  const ledger: string[] = [];
  const objects = { planned: cursor.value.planned.objects, copied: 0, skipped: 0, failed: 0, archived: cursor.value.archived, filteredOut: cursor.value.filteredOut };
  const bytes = { planned: cursor.value.planned.bytes, copied: 0 };
  const failures: RunReport["failures"] = [];
  const failuresByReason: Record<string, number> = {};
  const warnings: RunReport["warnings"] = [];
  let retries = 0;
  for (let i = 0; i < shards; i++) {
    let entries: LedgerEntry[];
    if (dryRun) {
      const m = await readJson<ShardManifest>(store, keys.shard(shardId(i)));
      if (!m) return undefined;
      entries = m.value.blobs.map((b, j) => ({ key: m.value.keys[j]!, source: b.name, size: b.size, outcome: "planned" as const, md5: b.contentMd5 }));
    } else {
      const r = await readJson<ShardResult>(store, keys.result(shardId(i)));
      if (!r) return undefined;
      entries = r.value.objects;
    }
    for (const e of entries) {
      ledger.push(JSON.stringify(e));
      retries += e.retries ?? 0;
      for (const w of e.warnings ?? []) warnings.push({ key: e.key, warning: w });
      if (e.outcome === "copied") {
        objects.copied++;
        bytes.copied += e.size;
      } else if (e.outcome === "skipped") objects.skipped++;
      else if (e.outcome === "failed") {
        objects.failed++;
        failures.push({ key: e.key, reason: e.reason ?? "unknown" });
        const code = e.code ?? "unknown";
        failuresByReason[code] = (failuresByReason[code] ?? 0) + 1;
      }
    }
  }
  // Every shard has its result: no copy of this run is in flight, so what is still open is litter.
  const leftover = dryRun ? { aborted: 0, failed: 0 } : await abortLeftoverUploads(deps, run.value);
  if (leftover.failed > 0) warnings.push({ key: "", warning: `${leftover.failed} open multipart upload(s) of this run could not be aborted: abort them or re-run with the same --run-id` });
  const marker = await readJson<AttemptMarker>(store, keys.nextAttempt);
  const finishedAt = new Date(deps.now());
  const startedAt = new Date(cursor.value.startedAt);
  const durationSeconds = Math.max(0.001, (finishedAt.getTime() - startedAt.getTime()) / 1000);
  const report: RunReport = {
    runId,
    status: objects.failed > 0 ? "failed" : "succeeded",
    dryRun,
    source: `azure://${request.source.container}/${request.source.prefix}`,
    destination: `s3://${request.destination.bucket}/${request.destination.prefix}`,
    objects,
    bytes,
    failures,
    failuresByReason,
    warnings,
    retries,
    uploadsAborted: leftover.aborted,
    attempt: marker?.value.attempt ?? 1,
    previousAttempts: Array.from({ length: (marker?.value.attempt ?? 1) - 1 }, (_, n) => `s3://${stateBucket}/${keys.attempt(n + 1).report}`),
    shards,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds,
    throughputBytesPerSecond: Math.round(bytes.copied / durationSeconds),
    ledger: `s3://${stateBucket}/${keys.ledger}`,
  };
  await store.put(keys.ledger, ledger.length ? ledger.join("\n") + "\n" : "");
  if (!(await writeOnce(store, keys.report, report)).created) return (await readJson<RunReport>(store, keys.report))?.value;
  await store.delete(deps.layout.active(runId)).catch(() => undefined);
  deps.log.info("run-finished", { runId, status: report.status, ...objects, bytesCopied: bytes.copied, durationSeconds });
  return report;
}
