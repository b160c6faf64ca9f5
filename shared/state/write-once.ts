/**
 * Write-once state objects: the record of a run, a report, a shard result, a
 * claim. Written with If-None-Match, so that of two writers (duplicate
 * messages, a retried invocation, a replay after a lost answer) exactly one
 * creates the object and the other learns that it exists.
 *
 * A store takes a body equal to the one already stored for a replay of our own
 * write (its answer may have been lost) and reports it created: a claim that
 * must go to exactly one writer carries a token of that writer in its body.
 */
import { PreconditionFailedError } from "../errors.ts";
import type { StateStore } from "../ports.ts";

export type WriteOnce = { created: true; etag: string } | { created: false };

/** Creates `key` holding `value` as JSON unless it exists; `created: false` means another write got there first. */
export async function writeOnce(store: StateStore, key: string, value: unknown): Promise<WriteOnce> {
  return createOnce(store, key, JSON.stringify(value));
}

/** The same for a body that is not one JSON value (a JSON Lines ledger). */
export async function createOnce(store: StateStore, key: string, body: string): Promise<WriteOnce> {
  try {
    const { etag } = await store.put(key, body, { ifNoneMatch: true });
    return { created: true, etag };
  } catch (err) {
    if (err instanceof PreconditionFailedError) return { created: false };
    throw err;
  }
}
