/**
 * Which keys of a shard the destination does not hold yet, from a few
 * ListObjectsV2 pages instead of one HEAD per object: on a first copy most keys
 * are absent, and a HEAD is a request per object that a listing answers a
 * thousand at a time. Keys present come with their listed size and ETag: on a
 * re-run over unchanged data the copy engine decides "unchanged" from them
 * (skip-checks.ts, isUnchangedByListing) and only the others get a HEAD.
 * Any trouble falls back to HEADs: never a wrong skip.
 */
import type { ObjectSink } from "../ports.ts";
import { withRetry } from "../retry.ts";

const bytes = (s: string) => Buffer.from(s, "utf8");
const byteCompare = (a: string, b: string) => Buffer.compare(bytes(a), bytes(b));

/** Drops a trailing lone high surrogate, so a cut never leaves half a character. */
function whole(s: string): string {
  const last = s.charCodeAt(s.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? s.slice(0, -1) : s;
}

export interface DestinationIndex {
  /** Keys the destination does not hold. */
  absent: Set<string>;
  /** Keys it holds, with their listed size and ETag. */
  listed: Map<string, { size: number; etag: string }>;
}

const NOTHING_KNOWN = (): DestinationIndex => ({ absent: new Set(), listed: new Map() });

export async function indexDestination(sink: ObjectSink, bucket: string, keys: string[], options: { attempts: number; minKeys?: number }): Promise<DestinationIndex> {
  if (keys.length < (options.minKeys ?? 8)) return NOTHING_KNOWN();
  const sorted = [...keys].sort(byteCompare);
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  let common = 0;
  while (common < min.length && common < max.length && min[common] === max[common]) common++;
  const prefix = whole(min.slice(0, common));
  // Exclusive start just before `min`: every key >= min in byte order comes after it.
  let startAfter = min.length > 0 ? whole(min.slice(0, -1)) : "";
  if (startAfter.length < prefix.length) startAfter = "";
  const wanted = new Set(keys);
  const present = new Map<string, { size: number; etag: string }>();
  // A range crowded with other keys is not worth listing: HEADs are cheaper then.
  let budget = keys.length * 3 + 1000;
  for (;;) {
    const page = await withRetry(() => sink.listKeys(bucket, { prefix, startAfter: startAfter || undefined, maxKeys: 1000 }), { attempts: options.attempts });
    for (const e of page.entries) {
      if (byteCompare(e.key, max) > 0) return difference(keys, present);
      if (wanted.has(e.key)) present.set(e.key, { size: e.size, etag: e.etag });
    }
    budget -= page.entries.length;
    if (!page.truncated || page.entries.length === 0) return difference(keys, present);
    if (budget <= 0) return NOTHING_KNOWN();
    startAfter = page.entries[page.entries.length - 1]!.key;
  }
}

function difference(keys: string[], present: Map<string, { size: number; etag: string }>): DestinationIndex {
  return { absent: new Set(keys.filter((k) => !present.has(k))), listed: present };
}
