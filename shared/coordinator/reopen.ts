/**
 * Retrying a failed run under its own id. The finished attempt's report and
 * ledger are kept under attempts/{n}/; each shard with failed objects gets
 * back a checkpoint holding only its successes, loses its result, and is sent
 * to its worker again, which copies the failed objects (and only them) anew.
 * Then the report is removed, so the run ends with a new one. A run that
 * succeeded is left as it is.
 *
 * Every step can be repeated after a crash: the archive is written once, a
 * shard already reopened has no result, and the report goes last.
 */
import { encode } from "../messages.ts";
import type { Deps } from "../runtime/deps.ts";
import { readJson, writeJson } from "../state/json.ts";
import { createOnce, writeOnce } from "../state/write-once.ts";
import { unmarkShard } from "./completion.ts";
import { shardId, type ObjectOutcome, type RunReport, type ShardCheckpoint, type ShardManifest, type ShardResult } from "../state/layout.ts";

export interface Reopened {
  attempt: number;
  shards: number;
  objects: number;
}

/** Reopens a run whose report says failed; undefined when there is nothing to retry. */
export async function reopenFailedRun(deps: Deps, runId: string, stateBucket: string): Promise<Reopened | undefined> {
  const store = deps.state(stateBucket);
  const keys = deps.layout.run(runId);
  const report = await readJson<RunReport>(store, keys.report);
  if (!report || report.value.status !== "failed" || report.value.dryRun) return undefined;
  const attempt = report.value.attempt ?? 1;
  const archive = keys.attempt(attempt);
  const ledger = await store.get(keys.ledger);
  if (ledger) await createOnce(deps.state(stateBucket), archive.ledger, ledger.body);
  await writeOnce(deps.state(stateBucket), archive.report, { ...report.value, ledger: `s3://${stateBucket}/${archive.ledger}` });

  const reopened: Reopened = { attempt: attempt + 1, shards: 0, objects: 0 };
  const resend: string[] = [];
  for (let i = 0; i < report.value.shards; i++) {
    const id = shardId(i);
    const result = await readJson<ShardResult>(store, keys.result(id));
    if (!result) continue;
    const failed = result.value.objects.flatMap((o, j) => (o.outcome === "failed" ? [j] : []));
    if (failed.length === 0) continue;
    const done: Record<number, ObjectOutcome> = {};
    result.value.objects.forEach((o, j) => {
      if (o.outcome !== "failed") done[j] = o;
    });
    const checkpoint: ShardCheckpoint = { runId, shardId: id, continuation: 0, done, uploads: {}, updatedAt: new Date(deps.now()).toISOString() };
    await writeJson(store, keys.checkpoint(id), checkpoint);
    // A giant object that failed starts over: its upload was aborted with the run's leftovers.
    for (const j of failed) {
      const g = keys.giant(id, j);
      for await (const key of store.list(g.prefix)) await store.delete(key);
    }
    await unmarkShard(deps, runId, stateBucket, i, result.value);
    await store.delete(keys.result(id));
    resend.push(id);
    reopened.shards++;
    reopened.objects += failed.length;
  }
  await store.put(keys.nextAttempt, JSON.stringify({ attempt: attempt + 1, previous: `s3://${stateBucket}/${archive.report}` }));
  await store.put(deps.layout.active(runId), JSON.stringify({ runId, stateBucket }));
  await store.delete(keys.aggregation);
  await store.delete(keys.report);
  // Sent last: a shard finishing at once must find the run without its old report.
  for (const id of resend) {
    const manifest = await readJson<ShardManifest>(store, keys.shard(id));
    await deps.bus.send({ kind: "worker", index: manifest?.value.queue ?? 0 }, [encode({ v: 1, type: "shard", runId, stateBucket, shardId: id, continuation: 0 })]);
  }
  deps.log.info("run-reopened", { runId, attempt: attempt + 1, shards: reopened.shards, objects: reopened.objects });
  return reopened;
}
