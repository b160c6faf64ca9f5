/**
 * What `migrate verify` compares for one blob and its destination object, short
 * of the bytes themselves: size, MD5 claims, content headers, user metadata and
 * tags. Pure, so each rule is unit-tested without servers.
 *
 * Problems name metadata and tag keys but never their values: values may hold
 * the data owner's information and the output ends up in CI logs and tickets.
 */
import { MARKERS } from "../copy/metadata.ts";
import { CONTENT_HEADERS, type ContentHeaders } from "../ports.ts";

/** User-metadata names the migrator adds: not the blob's own metadata. */
export const MIGRATOR_METADATA = MARKERS;

const MARKER_NAMES = new Set<string>(Object.values(MIGRATOR_METADATA));

export interface SourceSide extends ContentHeaders {
  size: number;
  /** Base64 Content-MD5 of the blob, when the uploader set one. */
  contentMd5?: string;
  metadata: Record<string, string>;
  tags: Record<string, string>;
}

export interface DestinationSide extends ContentHeaders {
  size: number;
  /** User metadata as the server returns it (names lowercase), markers included. */
  metadata: Record<string, string>;
  tags: Record<string, string>;
}

export interface ObjectDiff {
  problems: string[];
  /** The MD5 the bytes must hash to (base64), and who claims it; undefined when nobody does. */
  expectedMd5?: { base64: string; from: "source Content-MD5" | "destination md5chksum" };
}

export const METADATA_RENAMED = "metadata name rewritten by server";

/** Types a server assigns when none was sent: equal to "no type" on the other side. */
const DEFAULT_TYPES = new Set(["", "application/octet-stream", "binary/octet-stream"]);

const show = (v: string | undefined) => (v === undefined || v === "" ? "none" : JSON.stringify(v.length > 120 ? `${v.slice(0, 120)}...` : v));

export function diffObject(source: SourceSide, dest: DestinationSide): ObjectDiff {
  const problems: string[] = [];
  if (source.size !== dest.size) problems.push(`size differs: source ${source.size}, destination ${dest.size}`);

  const claimed = dest.metadata[MIGRATOR_METADATA.md5];
  let expectedMd5: ObjectDiff["expectedMd5"];
  if (source.contentMd5) {
    expectedMd5 = { base64: source.contentMd5, from: "source Content-MD5" };
    if (claimed === undefined) problems.push(`metadata ${MIGRATOR_METADATA.md5} missing on destination`);
    else if (claimed !== source.contentMd5) problems.push(`md5 differs: source Content-MD5 ${source.contentMd5}, destination ${MIGRATOR_METADATA.md5} ${claimed}`);
  } else if (claimed !== undefined) {
    expectedMd5 = { base64: claimed, from: "destination md5chksum" };
  }
  // Neither side claims an MD5 (a multipart copy of a blob without Content-MD5 can not
  // know it when its metadata is written): only hashing the bytes can tell.

  for (const [field, label] of CONTENT_HEADERS) {
    const want = source[field] ?? "";
    const got = dest[field] ?? "";
    if (want === got) continue;
    if (field === "contentType" && DEFAULT_TYPES.has(want) && DEFAULT_TYPES.has(got)) continue;
    problems.push(`${label} differs: source ${show(source[field])}, destination ${show(dest[field])}`);
  }

  problems.push(...diffMetadata(source.metadata, dest.metadata));
  problems.push(...diffTags(source.tags, dest.tags));
  return { problems, expectedMd5 };
}

/** Azure metadata names are case-insensitive and S3's come back lowercase: compare lowercase. */
export function diffMetadata(sourceMeta: Record<string, string>, destMeta: Record<string, string>): string[] {
  const problems: string[] = [];
  const remaining = new Map(Object.entries(destMeta).filter(([k]) => !MARKER_NAMES.has(k)));
  for (const [rawName, value] of Object.entries(sourceMeta)) {
    const name = rawName.toLowerCase();
    if (remaining.has(name)) {
      if (remaining.get(name) !== value) problems.push(`metadata ${name} differs`);
      remaining.delete(name);
      continue;
    }
    // Ceph RGW stores x-amz-meta-a_b as a-b: the data is there, the name is not.
    const renamed = name.replace(/_/g, "-");
    if (renamed !== name && remaining.has(renamed)) {
      const same = remaining.get(renamed) === value;
      problems.push(`${METADATA_RENAMED}: ${name} stored as ${renamed}${same ? "" : ", and its value differs"}`);
      remaining.delete(renamed);
      continue;
    }
    problems.push(`metadata ${name} missing on destination`);
  }
  for (const name of remaining.keys()) problems.push(`metadata ${name} not on source`);
  return problems;
}

export function diffTags(sourceTags: Record<string, string>, destTags: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(sourceTags)) {
    if (!Object.hasOwn(destTags, key)) problems.push(`tag ${key} missing on destination`);
    else if (destTags[key] !== value) problems.push(`tag ${key} differs`);
  }
  for (const key of Object.keys(destTags)) if (!Object.hasOwn(sourceTags, key)) problems.push(`tag ${key} not on source`);
  return problems;
}
