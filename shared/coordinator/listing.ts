/**
 * Pipelined, resumable listing: pages through the source, cuts shards bounded
 * by object count and bytes, writes each manifest and sends its message as soon
 * as it is cut, and records its position so that the next invocation goes on
 * exactly where this one stopped.
 *
 * Order of writes for each batch of shards: manifests, then their messages, then
 * the cursor (If-Match). A crash between the steps leaves manifests ahead of the
 * cursor; the next invocation adopts them as they were cut (their recorded end
 * position), re-sends their messages (workers are idempotent), and goes on. So
 * shard ids are deterministic and no blob lands in two shards.
 */
import { PreconditionFailedError } from "../errors.ts";
import { encode } from "../messages.ts";
import type { BlobEntry } from "../ports.ts";
import type { Deps } from "../runtime/deps.ts";
import { withRetry } from "../retry.ts";
import { readJson, writeJson } from "../state/json.ts";
import { shardId, type ListingCursor, type RunRecord, type ShardManifest } from "../state/layout.ts";
import { QUEUE_LIMITS } from "../limits.ts";
import { blobFilter } from "./filters.ts";
import { isArchived } from "../copy/skip-checks.ts";
import { mapKey } from "../locations.ts";
import { aggregate } from "./aggregate.ts";
import { historyUnlistedWarning, setAsideSourceMd5, tagsUnreadableWarning } from "../copy/source-notes.ts";
import { directoryMarkerKey, isDirectoryPlaceholder } from "../azure/hierarchical.ts";

export interface ListStepMessage {
  runId: string;
  stateBucket: string;
  seq: number;
}

export type ListStepOutcome = "finished" | "continued" | "duplicate" | "lost-race";

/** The invocation's deadline as listing sees it: time is checked directly, as in-memory work may never yield to a timer. */
export interface ListDeadline {
  signal: AbortSignal;
  nearing(): boolean;
}

/** What the caller has just read or written itself (the start of a run): the record and the cursor, not read again. */
export interface KnownRunState {
  run: RunRecord;
  cursor: { value: ListingCursor; etag: string };
}

export async function listStep(deps: Deps, msg: ListStepMessage, deadline: ListDeadline, known?: KnownRunState): Promise<ListStepOutcome> {
  const stop = () => deadline.signal.aborted || deadline.nearing();
  const store = deps.state(msg.stateBucket);
  const keys = deps.layout.run(msg.runId);
  const [run, loaded] = known
    ? [{ value: known.run }, known.cursor]
    : await Promise.all([readJson<RunRecord>(store, keys.record), readJson<ListingCursor>(store, keys.listing)]);
  if (!run) {
    deps.log.warn("listing-unknown-run", { runId: msg.runId });
    return "duplicate";
  }
  if (!loaded || loaded.value.done || loaded.value.seq !== msg.seq) return "duplicate";
  let cursor = loaded.value;
  let etag = loaded.etag;
  const request = run.value.request;
  const container = request.source.container;
  const sourcePrefix = request.source.prefix;
  const filter = blobFilter(request.options, sourcePrefix);
  const maxObjects = request.options.shardMaxObjects ?? deps.tuning.shardMaxObjects;
  const maxBytes = request.options.shardMaxBytes ?? deps.tuning.shardMaxBytes;
  const workerQueues = Math.max(1, deps.bus.workerQueues);
  const dryRun = request.options.dryRun;
  const directoryMarkers = request.options.directoryMarkers;
  const ignoreSourceMd5 = request.options.sourceMd5 === "ignore";

  const save = async (next: ListingCursor): Promise<boolean> => {
    next.updatedAt = new Date(deps.now()).toISOString();
    try {
      etag = (await writeJson(store, keys.listing, next, { ifMatch: etag })).etag;
      cursor = next;
      return true;
    } catch (err) {
      if (err instanceof PreconditionFailedError) return false;
      throw err;
    }
  };

  const shardMessage = (m: ShardManifest) =>
    encode({ v: 1, type: "shard", runId: msg.runId, stateBucket: msg.stateBucket, shardId: m.shardId, continuation: 0 });

  const sendAll = async (manifests: ShardManifest[]) => {
    if (dryRun || manifests.length === 0) return;
    const byQueue = new Map<number, string[]>();
    for (const m of manifests) byQueue.set(m.queue, [...(byQueue.get(m.queue) ?? []), shardMessage(m)]);
    for (const [index, bodies] of byQueue) await deps.bus.send({ kind: "worker", index }, bodies);
  };

  const advance = (c: ListingCursor, m: ShardManifest): ListingCursor => ({
    ...c,
    pageMarker: m.end.pageMarker,
    skipInPage: m.end.skipInPage,
    nextShardIndex: c.nextShardIndex + 1,
    planned: { objects: c.planned.objects + m.blobs.length, bytes: c.planned.bytes + m.bytes },
    filteredOut: c.filteredOut + m.consumed.filteredOut,
    archived: c.archived + m.consumed.archived,
    directories: (c.directories ?? 0) + (m.consumed.directories ?? 0),
    olderVersions: (c.olderVersions ?? 0) + (m.consumed.olderVersions ?? 0),
  });

  // Adopt shards cut by an invocation that died before recording them.
  const adopted: ShardManifest[] = [];
  let next = { ...cursor, invocations: cursor.invocations + 1, seq: cursor.seq + 1 };
  for (;;) {
    const existing = await readJson<ShardManifest>(store, keys.shard(shardId(next.nextShardIndex)));
    if (!existing) break;
    adopted.push(existing.value);
    next = advance(next, existing.value);
  }
  await sendAll(adopted);
  if (!(await save(next))) return "lost-race";

  let pageMarker = cursor.pageMarker;
  let skip = cursor.skipInPage;
  let pending: { blobs: BlobEntry[]; keys: string[]; bytes: number; filteredOut: number; archived: number; directories: number; olderVersions: number } = fresh();
  let cut: ShardManifest[] = [];
  let position = { pageMarker, skipInPage: skip };

  function fresh() {
    return { blobs: [] as BlobEntry[], keys: [] as string[], bytes: 0, filteredOut: 0, archived: 0, directories: 0, olderVersions: 0 };
  }

  const cutShard = async (end: { pageMarker: string; skipInPage: number }) => {
    const index = cursor.nextShardIndex + cut.length;
    const manifest: ShardManifest = {
      runId: msg.runId,
      shardId: shardId(index),
      container,
      bucket: request.destination.bucket,
      keys: pending.keys,
      blobs: pending.blobs,
      bytes: pending.bytes,
      queue: index % workerQueues,
      end,
      consumed: { filteredOut: pending.filteredOut, archived: pending.archived, directories: pending.directories, olderVersions: pending.olderVersions },
      createdAt: new Date(deps.now()).toISOString(),
    };
    await writeJson(store, keys.shard(manifest.shardId), manifest);
    cut.push(manifest);
    pending = fresh();
  };

  /** Sends the shards cut so far and records the cursor after them. */
  const commit = async (extra?: { position: { pageMarker: string; skipInPage: number }; filteredOut: number; directories: number; olderVersions: number }): Promise<boolean> => {
    await sendAll(cut);
    let c: ListingCursor = { ...cursor, seq: cursor.seq + 1 };
    for (const m of cut) c = advance(c, m);
    if (extra) {
      c = {
        ...c,
        pageMarker: extra.position.pageMarker,
        skipInPage: extra.position.skipInPage,
        filteredOut: c.filteredOut + extra.filteredOut,
        directories: (c.directories ?? 0) + extra.directories,
        olderVersions: (c.olderVersions ?? 0) + extra.olderVersions,
      };
    }
    const ok = await save(c);
    for (const m of cut) deps.log.info("shard-planned", { runId: msg.runId, shardId: m.shardId, objects: m.blobs.length, bytes: m.bytes });
    cut = [];
    return ok;
  };

  for (;;) {
    const page = await withRetry(() => deps.source.listPage(container, { prefix: sourcePrefix || undefined, marker: pageMarker || undefined, pageSize: deps.tuning.listPageSize }), {
      attempts: deps.tuning.maxAttempts,
    });
    const pageWarnings = [
      ...(page.tagsUnreadable ? [tagsUnreadableWarning(page.tagsUnreadable)] : []),
      ...(page.historyUnlisted ? [historyUnlistedWarning(page.historyUnlisted)] : []),
    ];
    // Carried by every cursor written from here on (they are all spread from this one).
    for (const warning of pageWarnings) if (!cursor.sourceWarnings?.includes(warning)) cursor.sourceWarnings = [...(cursor.sourceWarnings ?? []), warning];
    for (let i = skip; i < page.entries.length; i++) {
      const listed = page.entries[i]!;
      const blob = ignoreSourceMd5 ? setAsideSourceMd5(listed) : listed;
      position = { pageMarker, skipInPage: i + 1 };
      if (!filter(blob)) {
        pending.filteredOut++;
      } else if (blob.history) {
        // Snapshots, older versions and soft-deleted blobs are never copied: counted only.
        pending.olderVersions++;
      } else if (isDirectoryPlaceholder(blob)) {
        // ADLS Gen2 directory: not a file. Counted; written as a `dir/` key only when asked.
        pending.directories++;
        if (directoryMarkers) {
          pending.blobs.push(blob);
          pending.keys.push(directoryMarkerKey(mapKey(blob.name, sourcePrefix, request.destination.prefix)));
        }
      } else {
        pending.blobs.push(blob);
        pending.keys.push(mapKey(blob.name, sourcePrefix, request.destination.prefix));
        pending.bytes += blob.size;
        if (isArchived(blob)) pending.archived++;
      }
      if (pending.blobs.length >= maxObjects || pending.bytes >= maxBytes) {
        await cutShard(position);
        if (cut.length >= QUEUE_LIMITS.sendBatchSize && !(await commit())) return "lost-race";
      }
      if (stop()) break;
    }
    const lastPage = !page.nextMarker;
    const stopping = stop() && !(lastPage && position.skipInPage >= page.entries.length);
    if (stopping) {
      // Deadline: cut what is pending, record the position, and continue in a new invocation.
      const trailing =
        pending.blobs.length > 0
          ? { filteredOut: 0, directories: 0, olderVersions: 0 }
          : { filteredOut: pending.filteredOut, directories: pending.directories, olderVersions: pending.olderVersions };
      if (pending.blobs.length > 0) await cutShard(position);
      if (!(await commit({ position, ...trailing }))) return "lost-race";
      await deps.bus.send({ kind: "control" }, [encode({ v: 1, type: "continue-listing", runId: msg.runId, stateBucket: msg.stateBucket, seq: cursor.seq })]);
      deps.log.info("listing-continued", { runId: msg.runId, seq: cursor.seq, shards: cursor.nextShardIndex });
      return "continued";
    }
    if (lastPage) {
      const trailing =
        pending.blobs.length > 0
          ? { filteredOut: 0, directories: 0, olderVersions: 0 }
          : { filteredOut: pending.filteredOut, directories: pending.directories, olderVersions: pending.olderVersions };
      const end = { pageMarker, skipInPage: page.entries.length };
      if (pending.blobs.length > 0) await cutShard(end);
      if (!(await commit({ position: end, ...trailing }))) return "lost-race";
      const done: ListingCursor = { ...cursor, done: true, seq: cursor.seq + 1, finishedAt: new Date(deps.now()).toISOString() };
      if (!(await save(done))) return "lost-race";
      deps.log.info("listing-finished", { runId: msg.runId, shards: cursor.nextShardIndex, objects: cursor.planned.objects, bytes: cursor.planned.bytes });
      await aggregate(deps, msg.runId, msg.stateBucket);
      return "finished";
    }
    // Shards cut in this page go out now, so copying starts while listing goes on.
    if (cut.length > 0 && !(await commit())) return "lost-race";
    pageMarker = page.nextMarker!;
    skip = 0;
  }
}
