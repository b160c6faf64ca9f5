/**
 * Which keys of a shard the destination does not hold yet, from a few
 * ListObjectsV2 pages instead of one HEAD per object: on a first copy most keys
 * are absent, and a HEAD is a request per object that a listing answers a
 * thousand at a time. Keys present come with their listed size and ETag: on a
 * re-run over unchanged data the copy engine decides "unchanged" from them
 * (skip-checks.ts, isUnchangedByListing), or from them and a copy proof
 * (copy-proofs.ts), and only the others get a HEAD.
 * Any trouble falls back to HEADs: never a wrong skip.
 */
import type { ObjectSink } from "../ports.ts";
import { rangeBudget, rangeOf, walkKeyRange } from "./key-range.ts";

export interface DestinationIndex {
  /** Keys the destination does not hold. */
  absent: Set<string>;
  /** Keys it holds, with their listed size and ETag. */
  listed: Map<string, { size: number; etag: string }>;
}

/** An index that knows nothing: every key gets its own check. */
export const nothingKnown = (): DestinationIndex => ({ absent: new Set(), listed: new Map() });

export async function indexDestination(sink: ObjectSink, bucket: string, keys: string[], options: { attempts: number; minKeys?: number }): Promise<DestinationIndex> {
  // One key: its HEAD is as cheap as a listing page. From two on, one page answers for all (a shard of
  // large objects holds few: 20 GB of 5 GiB blobs is four).
  if (keys.length < (options.minKeys ?? 2)) return nothingKnown();
  const { first, last } = rangeOf(keys);
  const wanted = new Set(keys);
  const present = new Map<string, { size: number; etag: string }>();
  const walked = await walkKeyRange((o) => sink.listKeys(bucket, o), first, last, { budget: rangeBudget(keys.length), attempts: options.attempts }, (e) => {
    if (wanted.has(e.key)) present.set(e.key, { size: e.size, etag: e.etag });
  });
  // A cut listing says nothing of the keys it did not reach: none is known absent.
  if (walked === "cut") return nothingKnown();
  return { absent: new Set(keys.filter((k) => !present.has(k))), listed: present };
}
