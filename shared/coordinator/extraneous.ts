/**
 * Cutover: `--delete-extraneous` removes destination keys under the destination
 * prefix whose source blob no longer exists, once every object of the run was
 * copied or skipped. Only keys carrying the tool's markers (azure-etag,
 * md5chksum) are candidates unless `--delete-unmanaged`; include/exclude globs
 * bound the scope as they bound the copy (a key they exclude is left alone).
 *
 * Safety:
 * - The whole plan is made before the first deletion: a listing that fails, or
 *   more candidates than `maxDelete`, deletes nothing.
 * - A key is a candidate only when the merge of both listings misses it AND a
 *   direct lookup of its blob finds nothing (listing orders may differ).
 * - The plan is written once (If-None-Match) before deleting; an invocation that
 *   crashes mid-way, or a duplicate one, reuses it, so every deletion is in the
 *   ledger exactly once and deleting again an absent key is harmless.
 *
 * Memory: one page of each listing and the plan (at most maxDelete + 1 keys).
 */
import { MARKERS } from "../copy/metadata.ts";
import type { ObjectHead } from "../ports.ts";
import { withRetry } from "../retry.ts";
import { describeError } from "../redact.ts";
import type { Deps } from "../runtime/deps.ts";
import { readJson } from "../state/json.ts";
import { writeOnce } from "../state/write-once.ts";
import type { RunRecord } from "../state/layout.ts";
import { nameFilter } from "./filters.ts";

export const DEFAULT_MAX_DELETE = 1000;
const DELETE_BATCH = 1000;

export interface PlannedDeletion {
  key: string;
  size: number;
  etag: string;
}

export interface DeletionPlan {
  runId: string;
  keys: PlannedDeletion[];
  createdAt: string;
}

/** One line of the run ledger per deletion. */
export interface DeletionEntry extends PlannedDeletion {
  outcome: "deleted" | "would-delete" | "delete-failed";
  at: string;
  reason?: string;
}

export interface DeletionOutcome {
  entries: DeletionEntry[];
  /** Why nothing was deleted (over the limit); undefined when the plan was carried out. */
  refused?: string;
  /** Extraneous keys left alone because they carry none of the tool's markers. */
  unmanagedKept: number;
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

function isManaged(head: ObjectHead): boolean {
  return head.metadata[MARKERS.sourceEtag] !== undefined || head.metadata[MARKERS.md5] !== undefined;
}

export async function deleteExtraneous(deps: Deps, record: RunRecord, stateBucket: string, dryRun: boolean): Promise<DeletionOutcome> {
  const { request } = record;
  const maxDelete = request.options.maxDelete ?? DEFAULT_MAX_DELETE;
  const store = deps.state(stateBucket);
  const planKey = `${deps.layout.run(record.runId).base}deletions.json`;
  let plan = dryRun ? undefined : (await readJson<DeletionPlan>(store, planKey))?.value;
  let unmanagedKept = 0;
  if (!plan) {
    const found = await findExtraneous(deps, record, maxDelete + 1);
    unmanagedKept = found.unmanagedKept;
    if (found.keys.length > maxDelete) {
      return {
        entries: [],
        unmanagedKept,
        refused: `more than ${maxDelete} destination keys have no source blob: nothing deleted (raise --max-delete after checking the dry run)`,
      };
    }
    plan = { runId: record.runId, keys: found.keys, createdAt: new Date(deps.now()).toISOString() };
    if (dryRun) {
      const at = new Date(deps.now()).toISOString();
      return { entries: plan.keys.map((k) => ({ ...k, outcome: "would-delete", at })), unmanagedKept };
    }
    // Another invocation planned first: carry out its plan, not ours.
    if (!(await writeOnce(store, planKey, plan)).created) plan = (await readJson<DeletionPlan>(store, planKey))!.value;
  }

  const entries: DeletionEntry[] = [];
  for (let i = 0; i < plan.keys.length; i += DELETE_BATCH) {
    const batch = plan.keys.slice(i, i + DELETE_BATCH);
    const refused = new Map<string, string>();
    try {
      const errors = await withRetry(() => deps.sink.deleteObjects(request.destination.bucket, batch.map((k) => k.key)), { attempts: deps.tuning.maxAttempts });
      for (const e of errors) refused.set(e.key, e.error);
    } catch (err) {
      for (const k of batch) refused.set(k.key, describeError(err));
    }
    const at = new Date(deps.now()).toISOString();
    for (const k of batch) {
      const reason = refused.get(k.key);
      entries.push(reason === undefined ? { ...k, outcome: "deleted", at } : { ...k, outcome: "delete-failed", at, reason });
    }
  }
  deps.log.info("extraneous-deleted", { runId: record.runId, deleted: entries.filter((e) => e.outcome === "deleted").length, failed: entries.filter((e) => e.outcome === "delete-failed").length });
  return { entries, unmanagedKept };
}

/**
 * Destination keys under the prefix with no source blob, up to `limit`, merged
 * from both listings page by page.
 */
async function findExtraneous(deps: Deps, record: RunRecord, limit: number): Promise<{ keys: PlannedDeletion[]; unmanagedKept: number }> {
  const { source, destination, options } = record.request;
  const attempts = deps.tuning.maxAttempts;
  const inScope = nameFilter(options, source.prefix);
  const names = sourceNames(deps, source.container, source.prefix);
  let next = await names.next();
  const keys: PlannedDeletion[] = [];
  let unmanagedKept = 0;
  let startAfter: string | undefined;
  for (;;) {
    const page = await withRetry(() => deps.sink.listKeys(destination.bucket, { prefix: destination.prefix || undefined, startAfter, maxKeys: 1000 }), { attempts });
    for (const entry of page.entries) {
      if (entry.key.startsWith(deps.layout.prefix) || !entry.key.startsWith(destination.prefix)) continue;
      const name = source.prefix + entry.key.slice(destination.prefix.length);
      if (!inScope(name)) continue;
      while (!next.done && byteOrder(next.value, name) < 0) next = await names.next();
      if (!next.done && next.value === name) continue;
      if (await withRetry(() => deps.source.stat(source.container, name), { attempts })) continue;
      const head = await withRetry(() => deps.sink.head(destination.bucket, entry.key), { attempts });
      if (!head) continue;
      if (!options.deleteUnmanaged && !isManaged(head)) {
        unmanagedKept++;
        continue;
      }
      keys.push({ key: entry.key, size: entry.size, etag: entry.etag });
      if (keys.length >= limit) return { keys, unmanagedKept };
    }
    if (!page.truncated || page.entries.length === 0) return { keys, unmanagedKept };
    startAfter = page.entries[page.entries.length - 1]!.key;
  }
}

async function* sourceNames(deps: Deps, container: string, prefix: string): AsyncGenerator<string> {
  let marker: string | undefined;
  do {
    const page = await withRetry(() => deps.source.listPage(container, { prefix: prefix || undefined, marker, pageSize: deps.tuning.listPageSize }), { attempts: deps.tuning.maxAttempts });
    for (const e of page.entries) yield e.name;
    marker = page.nextMarker;
  } while (marker);
}
