/**
 * Which shards are done, kept so that detecting the last one costs O(1)
 * requests per shard whatever the run's size: each shard-done marks its shard
 * in its group's object (SHARDS_PER_GROUP shards a group, with their counts);
 * a group found complete is added to the index; the run is complete when the
 * listing is done and the index holds every group. Marking is idempotent, so
 * duplicate shard-done messages change nothing, and the sweep re-marks shards
 * whose message was lost.
 */
import type { Deps } from "../runtime/deps.ts";
import { readJson } from "../state/json.ts";
import { updateJson } from "../state/update.ts";
import {
  groupsOf,
  SHARDS_PER_GROUP,
  type DoneGroup,
  type DoneIndex,
  type ListingCursor,
  type OutcomeCounts,
  type ShardResult,
} from "../state/layout.ts";

export function countsOf(result: ShardResult): OutcomeCounts {
  const c: OutcomeCounts = { copied: 0, skipped: 0, failed: 0, bytesCopied: 0 };
  for (const o of result.objects) {
    if (o.outcome === "copied") {
      c.copied++;
      c.bytesCopied += o.size;
    } else if (o.outcome === "skipped") c.skipped++;
    else if (o.outcome === "failed") c.failed++;
  }
  return c;
}

/** Counts plus (or minus) a shard's counts. */
function shifted(a: OutcomeCounts, b: OutcomeCounts, sign: 1 | -1): OutcomeCounts {
  return { copied: a.copied + sign * b.copied, skipped: a.skipped + sign * b.skipped, failed: a.failed + sign * b.failed, bytesCopied: a.bytesCopied + sign * b.bytesCopied };
}

/** A shard's group and its place within it. */
function place(index: number): { g: number; local: number } {
  const g = Math.floor(index / SHARDS_PER_GROUP);
  return { g, local: index - g * SHARDS_PER_GROUP };
}

/** Shards in group g, once the listing has said how many shards there are. */
function groupSize(g: number, totalShards: number | undefined): number | undefined {
  if (totalShards === undefined) return undefined;
  return Math.max(0, Math.min(SHARDS_PER_GROUP, totalShards - g * SHARDS_PER_GROUP));
}

function groupComplete(group: DoneGroup, totalShards: number | undefined): boolean {
  if (group.shards.length >= SHARDS_PER_GROUP) return true;
  const size = groupSize(group.group, totalShards);
  return size !== undefined && group.shards.length >= size;
}

async function addToIndex(deps: Deps, runId: string, stateBucket: string, g: number): Promise<DoneIndex | undefined> {
  return updateJson<DoneIndex>(deps.state(stateBucket), deps.layout.run(runId).doneIndex, (current) => {
    if (current?.complete.includes(g)) return undefined;
    return { complete: [...(current?.complete ?? []), g].sort((a, b) => a - b) };
  });
}

/**
 * Marks shard `index` done with its result's counts. Returns true when the
 * run is complete (listing done, every shard marked).
 */
export async function markShardDone(deps: Deps, runId: string, stateBucket: string, index: number, result: ShardResult): Promise<boolean> {
  const store = deps.state(stateBucket);
  const keys = deps.layout.run(runId);
  const { g, local } = place(index);
  const counts = countsOf(result);
  const group = await updateJson<DoneGroup>(store, keys.doneGroup(g), (current) => {
    const now = current ?? { group: g, shards: [], counts: { copied: 0, skipped: 0, failed: 0, bytesCopied: 0 } };
    if (now.shards.includes(local)) return undefined;
    return { group: g, shards: [...now.shards, local], counts: shifted(now.counts, counts, 1) };
  });
  // Read after the group write: a listing that finished meanwhile either is seen here or sees this write.
  const cursor = (await readJson<ListingCursor>(store, keys.listing))?.value;
  const total = cursor?.done ? cursor.nextShardIndex : undefined;
  if (!group || !groupComplete(group, total)) return false;
  const idx = await addToIndex(deps, runId, stateBucket, g);
  return total !== undefined && (idx?.complete.length ?? 0) >= groupsOf(total);
}

/**
 * Whether every shard of a listed run is done. Reads the index, and the group
 * objects of the groups it lacks (at most the last, partial group once the
 * listing is done), adding those found complete.
 */
export async function runComplete(deps: Deps, runId: string, stateBucket: string, cursor: ListingCursor): Promise<boolean> {
  if (!cursor.done) return false;
  const store = deps.state(stateBucket);
  const keys = deps.layout.run(runId);
  const total = cursor.nextShardIndex;
  const groups = groupsOf(total);
  if (groups === 0) return true;
  const index = (await readJson<DoneIndex>(store, keys.doneIndex))?.value ?? { complete: [] };
  const have = new Set(index.complete);
  if (have.size >= groups) return true;
  // A full group is indexed by the shard that completes it; only a partial last group can be missing here,
  // unless a shard-done was lost between its group write and the index write (the sweep repairs that too).
  for (let g = 0; g < groups; g++) {
    if (have.has(g)) continue;
    const group = (await readJson<DoneGroup>(store, keys.doneGroup(g)))?.value;
    if (!group || !groupComplete(group, total)) return false;
    await addToIndex(deps, runId, stateBucket, g);
    have.add(g);
  }
  return have.size >= groups;
}

/** A shard-done message: marks the shard from its result; true when the run is complete. */
export async function shardDone(deps: Deps, runId: string, stateBucket: string, id: string): Promise<boolean> {
  const result = await readJson<ShardResult>(deps.state(stateBucket), deps.layout.run(runId).result(id));
  // No result: a message from before a retry of the run reopened the shard; its worker will announce it again.
  if (!result || !/^s-\d+$/.test(id)) return false;
  return markShardDone(deps, runId, stateBucket, shardIndex(id), result.value);
}

export function shardIndex(id: string): number {
  return Number(id.slice(2));
}

/** Unmarks a shard (a failed run reopened for a retry): its group loses it and its counts, the index the group. */
export async function unmarkShard(deps: Deps, runId: string, stateBucket: string, index: number, result: ShardResult): Promise<void> {
  const store = deps.state(stateBucket);
  const keys = deps.layout.run(runId);
  const { g, local } = place(index);
  await updateJson<DoneIndex>(store, keys.doneIndex, (current) => (current?.complete.includes(g) ? { complete: current.complete.filter((x) => x !== g) } : undefined));
  await updateJson<DoneGroup>(store, keys.doneGroup(g), (current) =>
    current?.shards.includes(local) ? { group: g, shards: current.shards.filter((x) => x !== local), counts: shifted(current.counts, countsOf(result), -1) } : undefined,
  );
}
