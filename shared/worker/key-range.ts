/**
 * Lists the keys of one range [first, last] (UTF-8 byte order, as S3 lists
 * them) a page at a time: the prefix the two ends share, starting just before
 * `first`, stopping at the first key past `last`. The destination index and the
 * copy proofs of a shard both walk their range with it.
 *
 * A range crowded with keys of no interest costs pages for nothing: past
 * `budget` keys the walk stops and says it was cut, and the caller falls back
 * to a request per object.
 */
import { withRetry } from "../retry.ts";

export interface KeyPage<E extends { key: string }> {
  entries: E[];
  truncated: boolean;
}

/** One page of keys under `prefix` after `startAfter` (exclusive), in UTF-8 byte order. */
export type PageLister<E extends { key: string }> = (options: { prefix: string; startAfter?: string; maxKeys: number }) => Promise<KeyPage<E>>;

const bytes = (s: string) => Buffer.from(s, "utf8");
export const byteCompare = (a: string, b: string) => Buffer.compare(bytes(a), bytes(b));

/** Drops a trailing lone high surrogate, so a cut never leaves half a character. */
function whole(s: string): string {
  const last = s.charCodeAt(s.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? s.slice(0, -1) : s;
}

/** Calls `visit` for every listed key in [first, last]; "cut" when the budget ran out before the range's end. */
export async function walkKeyRange<E extends { key: string }>(
  list: PageLister<E>,
  first: string,
  last: string,
  options: { budget: number; attempts: number },
  visit: (entry: E) => void,
): Promise<"whole" | "cut"> {
  let common = 0;
  while (common < first.length && common < last.length && first[common] === last[common]) common++;
  const prefix = whole(first.slice(0, common));
  // Exclusive start just before `first`: every key >= first in byte order comes after it.
  let startAfter = first.length > 0 ? whole(first.slice(0, -1)) : "";
  if (startAfter.length < prefix.length) startAfter = "";
  let budget = options.budget;
  for (;;) {
    const page = await withRetry(() => list({ prefix, startAfter: startAfter || undefined, maxKeys: 1000 }), { attempts: options.attempts });
    for (const e of page.entries) {
      if (byteCompare(e.key, last) > 0) return "whole";
      if (byteCompare(e.key, first) >= 0) visit(e);
    }
    budget -= page.entries.length;
    if (!page.truncated || page.entries.length === 0) return "whole";
    if (budget <= 0) return "cut";
    startAfter = page.entries[page.entries.length - 1]!.key;
  }
}

/** The first and last of `keys` in byte order. */
export function rangeOf(keys: string[]): { first: string; last: string } {
  let first = keys[0]!;
  let last = keys[0]!;
  for (const k of keys) {
    if (byteCompare(k, first) < 0) first = k;
    if (byteCompare(k, last) > 0) last = k;
  }
  return { first, last };
}

/** How many keys a shard's range may hold before listing it costs more than a request per object. */
export function rangeBudget(keys: number): number {
  return keys * 3 + 1000;
}
