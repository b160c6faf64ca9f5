/**
 * The scheduled sweep: finishes runs whose last shard-done message was lost,
 * re-sends shards whose worker went silent past the lease timeout, and restarts a
 * listing whose invocation died. Every action is idempotent, so a sweep racing
 * live work changes nothing but timing.
 */
import { encode } from "../messages.ts";
import { describeError } from "../redact.ts";
import type { Deps } from "../runtime/deps.ts";
import { readJson } from "../state/json.ts";
import { SHARDS_PER_GROUP, shardId, type DoneGroup, type ListingCursor, type ShardLease, type ShardManifest, type ShardResult } from "../state/layout.ts";
import { markShardDone } from "./completion.ts";
import { aggregate } from "./aggregate.ts";

export interface SweepOutcome {
  runs: number;
  finished: number;
  resentShards: number;
  resentListings: number;
}

export interface SweepHeartbeat extends SweepOutcome {
  at: string;
}

export interface SweepOptions {
  /** Treat every unfinished shard and listing as silent (a local run whose queues are drained). */
  everythingSilent?: boolean;
}

export async function sweep(deps: Deps, target: { runId?: string; stateBucket?: string }, options: SweepOptions = {}): Promise<SweepOutcome> {
  const stateBucket = target.stateBucket ?? deps.stateBucket;
  const outcome: SweepOutcome = { runs: 0, finished: 0, resentShards: 0, resentListings: 0 };
  if (!stateBucket) {
    deps.log.warn("sweep-skipped", { reason: "no state bucket: set STATE_BUCKET or name one in the sweep message" });
    return outcome;
  }
  const store = deps.state(stateBucket);
  const runIds: string[] = [];
  if (target.runId) runIds.push(target.runId);
  else for await (const key of store.list(deps.layout.activePrefix())) runIds.push(key.slice(deps.layout.activePrefix().length));
  for (const runId of runIds) {
    outcome.runs++;
    const r = await sweepRun(deps, runId, stateBucket, options);
    outcome.finished += r.finished ? 1 : 0;
    outcome.resentShards += r.resentShards;
    outcome.resentListings += r.resentListing ? 1 : 0;
  }
  if (outcome.resentShards || outcome.resentListings || outcome.finished) deps.log.info("sweep", { ...outcome });
  if (!target.runId) {
    // The scheduled sweep leaves its time: `migrate doctor` checks that the schedule trigger fires.
    const heartbeat: SweepHeartbeat = { at: new Date(deps.now()).toISOString(), ...outcome };
    await store.put(deps.layout.sweepHeartbeat(), JSON.stringify(heartbeat)).catch((err) => deps.log.warn("sweep-heartbeat-failed", { error: describeError(err) }));
  }
  return outcome;
}

async function sweepRun(deps: Deps, runId: string, stateBucket: string, options: SweepOptions) {
  const store = deps.state(stateBucket);
  const keys = deps.layout.run(runId);
  const result = { finished: false, resentShards: 0, resentListing: false };
  if (await aggregate(deps, runId, stateBucket)) {
    result.finished = true;
    return result;
  }
  const cursor = await readJson<ListingCursor>(store, keys.listing);
  if (!cursor) return result;
  const now = deps.now();
  if (!cursor.value.done && (options.everythingSilent || now - Date.parse(cursor.value.updatedAt) > deps.leaseMs)) {
    await deps.bus.send({ kind: "control" }, [encode({ v: 1, type: "continue-listing", runId, stateBucket, seq: cursor.value.seq })]);
    result.resentListing = true;
  }
  // A shard marked in its done-group is finished: no read. One with a result but unmarked lost its
  // shard-done message: mark it. Group objects are read once each, results only of unmarked shards.
  const groups = new Map<number, Set<number>>();
  let marked = 0;
  for (let i = 0; i < cursor.value.nextShardIndex; i++) {
    const id = shardId(i);
    const g = Math.floor(i / SHARDS_PER_GROUP);
    if (!groups.has(g)) groups.set(g, new Set((await readJson<DoneGroup>(store, keys.doneGroup(g)))?.value.shards ?? []));
    if (groups.get(g)!.has(i - g * SHARDS_PER_GROUP)) continue;
    const done = await readJson<ShardResult>(store, keys.result(id));
    if (done) {
      await markShardDone(deps, runId, stateBucket, i, done.value);
      marked++;
      continue;
    }
    const lease = await readJson<ShardLease>(store, keys.lease(id));
    let silent: boolean;
    if (options.everythingSilent) silent = true;
    else if (lease) silent = Date.parse(lease.value.expiresAt) < now;
    else {
      const manifest = await readJson<ShardManifest>(store, keys.shard(id));
      silent = !!manifest && now - Date.parse(manifest.value.createdAt) > deps.leaseMs;
    }
    if (!silent) continue;
    const manifest = await readJson<ShardManifest>(store, keys.shard(id));
    if (!manifest) continue;
    await deps.bus.send({ kind: "worker", index: manifest.value.queue }, [encode({ v: 1, type: "shard", runId, stateBucket, shardId: id, continuation: 0 })]);
    result.resentShards++;
  }
  if (marked > 0 && (await aggregate(deps, runId, stateBucket))) result.finished = true;
  return result;
}
