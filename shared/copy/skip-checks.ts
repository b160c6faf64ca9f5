/**
 * The two checks that decide, from the listing alone, that a blob is not
 * copied: it is archived (can not be read), or the destination already holds
 * this version. Listing, the shard worker and the giant-object path use them
 * without pulling in the rest of the copy engine.
 */
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
