/**
 * What the ledger says about a blob beyond its outcome: facts of the source that
 * limit what could be carried (tags not readable with this identity...). Notes
 * are per object and do not repeat in the report's warnings; the report states
 * each run-wide cause once.
 */
import type { BlobEntry } from "../ports.ts";
import type { ObjectOutcome } from "../state/layout.ts";

export const TAGS_NOT_READ = "tags not read: the source refused the tag permission";

export function sourceNotes(blob: BlobEntry): string[] {
  const notes: string[] = [];
  if (blob.tagsUnread) notes.push(TAGS_NOT_READ);
  return notes;
}

/** The outcome with the blob's source notes added (once). */
export function withSourceNotes(blob: BlobEntry, outcome: ObjectOutcome): ObjectOutcome {
  const notes = [...(outcome.notes ?? [])];
  for (const n of sourceNotes(blob)) if (!notes.includes(n)) notes.push(n);
  return notes.length ? { ...outcome, notes } : outcome;
}

/** The run-wide warning when listing had to leave tags out; says why and how to carry them. */
export function tagsUnreadableWarning(why: string): string {
  return `tags could not be read (${why}): blobs were listed and copied without their tags. Grant the tag-read permission (SAS permission "t", or a role with the blobs/tags/read data action such as Storage Blob Data Owner) to carry them.`;
}
