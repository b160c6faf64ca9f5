/**
 * Copy proofs: how a re-run decides "unchanged" from listings for objects
 * whose listed ETag proves nothing by itself (multipart objects, blobs without
 * Content-MD5, SSE-C). When such an object is copied and verified, or found
 * unchanged by a HEAD, one empty object goes to the state store (not the
 * destination) under proofs/{bucket}/{key}#{token}; a later shard lists the
 * proofs of its key range once, beside the destination listing, and the copy
 * engine matches the token recomputed from the blob and this run's listed
 * ETag (skip-checks.ts, isUnchangedByProof).
 *
 * A proof is only ever a shortcut: one missing, unlistable or stale (an
 * earlier version of either side carries another token) sends the object to
 * its HEAD as before. Stale proofs are left in place: they never match again.
 */
import type { BlobEntry, StateStore } from "../ports.ts";
import type { Deps } from "../runtime/deps.ts";
import { S3_LIMITS } from "../limits.ts";
import { describeError } from "../redact.ts";
import { copyProofToken, needsCopyProof } from "../copy/skip-checks.ts";
import { rangeBudget, rangeOf, walkKeyRange } from "./key-range.ts";

/** The tokens of the proofs found for each of `keys`: one listing of the shard's range, bounded by its size. */
export async function indexProofs(store: StateStore, proofs: ReturnType<Deps["layout"]["proofs"]>, keys: string[], options: { attempts: number; budget?: number }): Promise<Map<string, Set<string>>> {
  const found = new Map<string, Set<string>>();
  if (keys.length === 0) return found;
  // Every proof of key k lies in [k#, k#g): tokens are lowercase hex.
  const first = proofs.base + rangeOf(keys.map((k) => `${k}#`)).first;
  const last = proofs.base + rangeOf(keys.map((k) => `${k}#g`)).last;
  const wanted = new Set(keys);
  // A range cut short keeps what it found: each proof stands on its own, the rest get their HEAD.
  await walkKeyRange(
    async (o) => {
      const page = await store.listPage(o.prefix, o);
      return { entries: page.keys.map((key) => ({ key })), truncated: page.truncated };
    },
    first,
    last,
    { budget: options.budget ?? rangeBudget(keys.length), attempts: options.attempts },
    (e) => {
      const p = proofs.parse(e.key);
      if (!p || !wanted.has(p.key)) return;
      const tokens = found.get(p.key) ?? new Set<string>();
      tokens.add(p.token);
      found.set(p.key, tokens);
    },
  );
  return found;
}

/**
 * Records that `key` of `bucket` holds `blob` as the object with this ETag, when
 * a listing alone would not say so. Never fails the copy: a proof not written
 * costs the next run one HEAD for this object.
 */
export async function writeCopyProof(deps: Deps, stateBucket: string, bucket: string, key: string, blob: BlobEntry, destinationEtag: string | undefined): Promise<void> {
  if (!destinationEtag || !needsCopyProof(blob, { size: blob.size, etag: destinationEtag }, deps.sink.etagsAreMd5)) return;
  const token = copyProofToken({ sourceEtag: blob.etag, size: blob.size, destinationEtag, keyMd5: deps.sink.customerKeyMd5 });
  const proofKey = deps.layout.proofs(bucket).proof(key, token);
  if (Buffer.byteLength(proofKey, "utf8") > S3_LIMITS.maxKeyBytes) return;
  try {
    await deps.state(stateBucket).put(proofKey, "");
  } catch (err) {
    deps.log.warn("copy-proof-not-written", { key, error: describeError(err) });
  }
}
