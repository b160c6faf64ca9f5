/**
 * The checks that decide that a blob is not copied: it is archived (can not
 * be read), or the destination already holds this version, decided from a
 * HEAD, from the destination listing alone, or from the listing and a copy
 * proof. Listing, the shard worker and the giant-object path use them without
 * pulling in the rest of the copy engine.
 */
import { createHash } from "node:crypto";
import type { BlobEntry, ObjectHead } from "../ports.ts";
import { MARKERS, hexToBase64 } from "./metadata.ts";

export const ARCHIVED_REASON = "archived: rehydrate first";

/** Archive-tier blobs (and those still being rehydrated) can not be read: never start on them. */
export function isArchived(blob: BlobEntry): boolean {
  return blob.accessTier?.toLowerCase() === "archive" || (blob.archiveStatus !== undefined && blob.archiveStatus !== "");
}

/**
 * The destination already holds this version of the blob: same size, and our
 * marker of the source ETag, or an MD5 marker equal to the source's Content-MD5
 * (rclone writes the same md5chksum, so its copies are recognised too).
 * With an SSE-C key (`keyMd5`), an object stored without encryption is not
 * unchanged: it is copied again, encrypted.
 */
export function isUnchanged(blob: BlobEntry, head: ObjectHead, keyMd5?: string): string | undefined {
  if (head.size !== blob.size) return undefined;
  if (keyMd5 && head.sseCustomerKeyMd5 === undefined) return undefined;
  if (head.metadata[MARKERS.sourceEtag] === blob.etag) return "same size and source ETag";
  if (blob.contentMd5 && head.metadata[MARKERS.md5] === hexToBase64(blob.contentMd5)) return "same size and MD5";
  return undefined;
}

/**
 * The same decision from a destination listing, without a HEAD: the listed
 * object has the blob's size and its ETag is the blob's Content-MD5, so the
 * destination holds these very bytes. Only where ETags are MD5s (no SSE-C) and
 * only for single-PUT objects (a multipart ETag is never a plain MD5); a blob
 * without Content-MD5 gets its HEAD as before.
 */
export function isUnchangedByListing(blob: BlobEntry, listed: { size: number; etag: string }, etagsAreMd5: boolean): string | undefined {
  if (!etagsAreMd5 || !blob.contentMd5 || listed.size !== blob.size) return undefined;
  return listed.etag.replace(/"/g, "").toLowerCase() === blob.contentMd5.toLowerCase() ? "same size and MD5 (destination listing)" : undefined;
}

/** Hex characters of a copy proof's token. */
export const PROOF_TOKEN_LENGTH = 32;

const bareEtag = (etag: string) => etag.replace(/"/g, "").toLowerCase();

/**
 * The token of a copy proof: what was copied (source ETag and size), what the
 * destination made of it (its ETag as S3 gives it, which a listing shows
 * again), and the SSE-C key's digest ("" without one). Nothing secret: the key
 * itself never enters it. A proof written for an earlier version of either side
 * carries another token and never matches: stale proofs are harmless.
 */
export function copyProofToken(p: { sourceEtag: string; size: number; destinationEtag: string; keyMd5?: string }): string {
  const tuple = JSON.stringify([p.sourceEtag, p.size, bareEtag(p.destinationEtag), p.keyMd5 ?? ""]);
  return createHash("sha256").update(tuple).digest("hex").slice(0, PROOF_TOKEN_LENGTH);
}

/**
 * The decision of isUnchanged without a HEAD, for objects whose listed ETag
 * proves nothing by itself: the listing shows the blob's size and an ETag, and
 * the state store holds a proof, written when this very blob version was copied
 * (or found unchanged by a HEAD), that this ETag is what the copy produced under
 * the same SSE-C key. `proofs`: the tokens found for this key.
 */
export function isUnchangedByProof(blob: BlobEntry, listed: { size: number; etag: string }, keyMd5: string | undefined, proofs: ReadonlySet<string> | undefined): string | undefined {
  if (!proofs?.size || listed.size !== blob.size) return undefined;
  const token = copyProofToken({ sourceEtag: blob.etag, size: blob.size, destinationEtag: listed.etag, keyMd5 });
  return proofs.has(token) ? "same size and source ETag (copy proof)" : undefined;
}

/** Whether an object with this size and ETag needs a copy proof: a listing of it alone would not decide "unchanged". */
export function needsCopyProof(blob: BlobEntry, destination: { size: number; etag: string }, etagsAreMd5: boolean): boolean {
  return !!destination.etag && isUnchangedByListing(blob, destination, etagsAreMd5) === undefined;
}
