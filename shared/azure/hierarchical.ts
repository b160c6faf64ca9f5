/**
 * Hierarchical-namespace accounts (ADLS Gen2) seen through the Blob API: a flat
 * listing returns each directory as a zero-byte blob with metadata
 * `hdi_isfolder=true`. It is not a file; S3 has no directories, so by default it
 * is counted and not copied, and on request it becomes a `dir/` key (the
 * convention S3 consoles and rclone use for empty directories). POSIX ACLs live
 * only behind the DFS API and have no S3 counterpart.
 */
import type { BlobEntry } from "../ports.ts";

export function isDirectoryPlaceholder(blob: Pick<BlobEntry, "size" | "metadata">): boolean {
  if (blob.size !== 0) return false;
  // Metadata names are case-insensitive on Azure.
  for (const [k, v] of Object.entries(blob.metadata)) if (k.toLowerCase() === "hdi_isfolder" && v.trim().toLowerCase() === "true") return true;
  return false;
}

export function directoryMarkerKey(key: string): string {
  return key.endsWith("/") ? key : `${key}/`;
}

export const ACLS_NOT_CARRIED =
  "directories of a hierarchical-namespace (ADLS Gen2) account were found: their POSIX ACLs and owners can not be carried to S3 and were not copied; set access on the destination with bucket policies";
