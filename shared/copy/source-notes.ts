/**
 * What the ledger says about a blob beyond its outcome: facts of the source that
 * limit what could be carried (tags not readable with this identity...). Notes
 * are per object and do not repeat in the report's warnings; the report states
 * each run-wide cause once.
 */
import type { BlobEntry } from "../ports.ts";

/** What notes are added to: a ledger entry (state/layout.ts ObjectOutcome), by its shape, so the engine needs no state types. */
interface NotedOutcome {
  outcome: string;
  md5?: string;
  warnings?: string[];
  notes?: string[];
}

export const TAGS_NOT_READ = "tags not read: the source refused the tag permission";

/** The reason a blob encrypted with a customer-provided key (CPK) fails: Azure serves its bytes only to a request carrying that key. */
export const CUSTOMER_KEY_REASON = "encrypted with a customer-provided key: Azure serves it only to requests carrying that key, which this tool does not take; decrypt or re-encrypt it at the source first";

/**
 * The per-object warning for a blob under legal hold or a retention policy: the
 * copy is not locked at the destination (no Object Lock is applied yet).
 */
export function immutabilityWarning(blob: BlobEntry): string | undefined {
  const policies: string[] = [];
  if (blob.legalHold) policies.push("a legal hold");
  if (blob.immutability) policies.push(`a time-based retention policy (${blob.immutability.mode}, until ${blob.immutability.until})`);
  if (policies.length === 0) return undefined;
  return `immutable at the source under ${policies.join(" and ")}: the copy is not locked at the destination`;
}

/**
 * With `--source-md5 ignore` the source's Content-MD5 is set aside before any
 * copy path sees it: none checks it, none writes it as md5chksum.
 */
export function setAsideSourceMd5(blob: BlobEntry): BlobEntry {
  if (!blob.contentMd5) return blob;
  const { contentMd5, ...rest } = blob;
  return { ...rest, ignoredContentMd5: contentMd5 };
}

export function sourceNotes(blob: BlobEntry, outcome?: NotedOutcome): string[] {
  const notes: string[] = [];
  if (blob.tagsUnread) notes.push(TAGS_NOT_READ);
  if (blob.ignoredContentMd5 && outcome?.outcome === "copied") {
    if (!outcome.md5) notes.push(`source Content-MD5 not checked (--source-md5 ignore): ${blob.ignoredContentMd5}`);
    else if (outcome.md5 !== blob.ignoredContentMd5) notes.push(`source Content-MD5 stale: the source says ${blob.ignoredContentMd5}, the bytes copied have ${outcome.md5}`);
  }
  return notes;
}

/** The outcome with the blob's source notes added (once). */
export function withSourceNotes<T extends NotedOutcome>(blob: BlobEntry, outcome: T, objectLock = false): T {
  const notes = [...(outcome.notes ?? [])];
  for (const n of sourceNotes(blob, outcome)) if (!notes.includes(n)) notes.push(n);
  let result = notes.length ? { ...outcome, notes } : outcome;
  // A blob that is (or would be) copied while immutable at the source, to a bucket that can not lock it: warn on it, by name.
  // (The copy engine's own "written without Object Lock" warning says it already.)
  const saidByEngine = (outcome.warnings ?? []).some((w) => /without Object Lock/.test(w));
  const locked = outcome.outcome !== "failed" && !objectLock && !saidByEngine ? immutabilityWarning(blob) : undefined;
  if (locked && !(outcome.warnings ?? []).includes(locked)) result = { ...result, warnings: [...(outcome.warnings ?? []), locked] };
  return result;
}

export function historyUnlistedWarning(why: string): string {
  return `older versions, snapshots and soft-deleted blobs could not be listed (${why}): they are not counted in olderVersions (they are never copied either way)`;
}

export function olderVersionsWarning(n: number): string {
  return `${n} older versions not copied (snapshots, previous versions and soft-deleted blobs): only current blobs are migrated`;
}

/** The run-wide warning when listing had to leave tags out; says why and how to carry them. */
export function tagsUnreadableWarning(why: string): string {
  return `tags could not be read (${why}): blobs were listed and copied without their tags. Grant the tag-read permission (SAS permission "t", or a role with the blobs/tags/read data action such as Storage Blob Data Owner) to carry them.`;
}
