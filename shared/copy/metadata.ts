/**
 * What a blob's headers, metadata and tags become on the destination, and what
 * could not be carried. Nothing is dropped silently: every loss is a warning
 * naming the key, reported with the object.
 */
import { CONTENT_HEADERS, contentHeadersOf, type BlobEntry, type ObjectHead, type ObjectHeaders, type ObjectLock } from "../ports.ts";
import { S3_LIMITS } from "../limits.ts";

/** User-metadata names of our markers (md5chksum is rclone's name: rclone check and sync read it too). */
export const MARKERS = {
  md5: "md5chksum",
  sourceEtag: "azure-etag",
  sourceLastModified: "azure-last-modified",
} as const;

export interface MappedObject {
  headers: ObjectHeaders;
  tags: Record<string, string>;
  warnings: string[];
}

export interface MapOptions {
  /** Azure access tier -> S3 storage class; "*" for every tier not in the map; otherwise no class. */
  storageClassMap?: Record<string, string>;
  /** Base64 MD5 of the whole object when known before upload (ours or the source's). */
  md5Base64?: string;
  /** The destination bucket has Object Lock: blobs under legal hold or retention are written locked. */
  objectLockAvailable?: boolean;
}

/**
 * The Object Lock a blob asks for: its legal hold, and its time-based retention
 * while it lasts (Azure "Locked" policies become COMPLIANCE, "Unlocked" ones
 * GOVERNANCE). Undefined when the blob is under neither.
 */
export function lockOf(blob: BlobEntry, now = Date.now()): ObjectLock | undefined {
  const lock: ObjectLock = {};
  if (blob.legalHold) lock.legalHold = true;
  const until = blob.immutability ? Date.parse(blob.immutability.until) : NaN;
  if (until > now) {
    lock.mode = blob.immutability?.mode.toLowerCase() === "locked" ? "COMPLIANCE" : "GOVERNANCE";
    lock.retainUntil = new Date(until).toISOString();
  }
  return Object.keys(lock).length > 0 ? lock : undefined;
}

export function describeLock(lock: ObjectLock): string {
  return [lock.legalHold ? "legal hold" : "", lock.retainUntil ? `retention until ${lock.retainUntil}` : ""].filter(Boolean).join(" and ");
}

/** An HTTP header token, lowercase: what S3 accepts after `x-amz-meta-`. */
const META_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** Printable ASCII and tab: anything else is mangled or refused in an HTTP header. */
const META_VALUE = /^[\t\x20-\x7e]*$/;
/** Characters S3 accepts in tag keys and values. */
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

export function hexToBase64(hex: string): string {
  return Buffer.from(hex, "hex").toString("base64");
}

const utf8Length = (s: string) => Buffer.byteLength(s, "utf8");

export function mapBlobToObject(blob: BlobEntry, options: MapOptions = {}): MappedObject {
  const warnings: string[] = [];
  const metadata: Record<string, string> = {};
  let metaBytes = 0;

  const markers: Record<string, string> = {
    [MARKERS.sourceEtag]: blob.etag,
    [MARKERS.sourceLastModified]: blob.lastModified,
  };
  const md5 = options.md5Base64 ?? (blob.contentMd5 ? hexToBase64(blob.contentMd5) : undefined);
  if (md5) markers[MARKERS.md5] = md5;
  // Markers first: skip checks depend on them, so they take the budget before user metadata.
  for (const [k, v] of Object.entries(markers)) {
    metadata[k] = v;
    metaBytes += utf8Length(k) + utf8Length(v);
  }

  for (const [rawName, value] of Object.entries(blob.metadata ?? {})) {
    const name = rawName.toLowerCase();
    if (name in markers) {
      warnings.push(`metadata "${rawName}" not carried: the name is reserved for the migration marker`);
      continue;
    }
    if (!META_NAME.test(name)) {
      warnings.push(`metadata "${rawName}" not carried: S3 refuses this name`);
      continue;
    }
    if (!META_VALUE.test(value)) {
      warnings.push(`metadata "${rawName}" not carried: its value has characters S3 can not store in a header`);
      continue;
    }
    const bytes = utf8Length(name) + utf8Length(value);
    if (metaBytes + bytes > S3_LIMITS.maxUserMetadataBytes) {
      warnings.push(`metadata "${rawName}" not carried: user metadata over ${S3_LIMITS.maxUserMetadataBytes} bytes`);
      continue;
    }
    metadata[name] = value;
    metaBytes += bytes;
  }

  const tags: Record<string, string> = {};
  for (const [key, value] of Object.entries(blob.tags ?? {})) {
    if (key.length === 0 || key.length > S3_LIMITS.maxTagKeyLength) {
      warnings.push(`tag "${key.slice(0, 140)}" not carried: key longer than ${S3_LIMITS.maxTagKeyLength} characters`);
    } else if (value.length > S3_LIMITS.maxTagValueLength) {
      warnings.push(`tag "${key}" not carried: value longer than ${S3_LIMITS.maxTagValueLength} characters`);
    } else if (!TAG_CHARS.test(key) || !TAG_CHARS.test(value)) {
      warnings.push(`tag "${key}" not carried: characters S3 refuses in tags`);
    } else if (Object.keys(tags).length >= S3_LIMITS.maxTags) {
      warnings.push(`tag "${key}" not carried: more than ${S3_LIMITS.maxTags} tags`);
    } else {
      tags[key] = value;
    }
  }

  const headers: ObjectHeaders = { ...contentHeadersOf(blob), metadata };
  // A mapped tier wins; "*" is the class of every other object.
  const cls = (blob.accessTier ? options.storageClassMap?.[blob.accessTier] : undefined) ?? options.storageClassMap?.["*"];
  if (cls) headers.storageClass = cls;
  const lock = lockOf(blob);
  if (lock && options.objectLockAvailable) headers.objectLock = lock;
  else if (lock) warnings.push(`the source is under ${describeLock(lock)}: written without Object Lock (the destination bucket has none)`);
  return { headers, tags, warnings };
}

const HEADER_NAMES: ReadonlyArray<readonly [keyof ObjectHeaders, string]> = [...CONTENT_HEADERS, ["storageClass", "storage class"]];

/**
 * What the server actually kept, compared with what was sent. Differences are
 * warnings (the bytes are verified elsewhere). RGW rewrites `_` to `-` in
 * metadata names: that is reported naming the key, not treated as a loss.
 * `tags` is compared only when given.
 */
export function compareCarried(expected: { headers: ObjectHeaders; tags: Record<string, string> }, head: ObjectHead, tags?: Record<string, string>): string[] {
  const warnings: string[] = [];
  for (const [field, label] of HEADER_NAMES) {
    const want = expected.headers[field];
    if (typeof want !== "string") continue;
    const got = head[field];
    if (field === "storageClass" && want === "STANDARD" && got === undefined) continue;
    if (got !== want) warnings.push(`${label} stored as ${JSON.stringify(got ?? null)} instead of ${JSON.stringify(want)}`);
  }
  for (const [name, value] of Object.entries(expected.headers.metadata)) {
    if (head.metadata[name] === value) continue;
    const renamed = name.replace(/_/g, "-");
    if (renamed !== name && head.metadata[renamed] === value) {
      warnings.push(`metadata "${name}" stored as "${renamed}" by the server`);
    } else if (name in head.metadata || renamed in head.metadata) {
      warnings.push(`metadata "${name}" stored with a different value`);
    } else {
      warnings.push(`metadata "${name}" missing on the destination`);
    }
  }
  const lock = expected.headers.objectLock;
  if (lock) {
    if (lock.legalHold && !head.objectLock?.legalHold) warnings.push("legal hold not set on the destination");
    if (lock.retainUntil && !head.objectLock?.retainUntil) warnings.push("retention not set on the destination");
  }
  if (tags) {
    for (const [key, value] of Object.entries(expected.tags)) {
      if (!(key in tags)) warnings.push(`tag "${key}" missing on the destination`);
      else if (tags[key] !== value) warnings.push(`tag "${key}" stored with a different value`);
    }
  }
  return warnings;
}
