/**
 * Source and destination locations (`azure://CONTAINER[/PREFIX]`,
 * `s3://BUCKET[/PREFIX]`) and the key mapping between them: used by listing,
 * verification and the command line alike.
 *
 * The prefix is taken literally, byte for byte: no percent-decoding and no
 * collapsing of `//`, because `%`, `#`, `?`, `+` and `//` are legal in blob
 * names and a URL parser would silently change which blobs are selected.
 */
import { ConfigError } from "./errors.ts";
import { DEFAULT_STATE_PREFIX } from "./config.ts";

export interface AzureLocation {
  container: string;
  /** "" (whole container) or a prefix ending with "/". */
  prefix: string;
}

export interface S3Location {
  bucket: string;
  /** "" (whole bucket) or a prefix ending with "/". */
  prefix: string;
}

/** Azure blob names and S3 keys are both limited to 1024 (characters / UTF-8 bytes). */
const MAX_NAME = 1024;

const CONTAINER = /^(\$root|[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9])$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Splits `scheme://name/rest` without URL semantics; undefined when the scheme differs. */
function split(raw: string, scheme: string): { name: string; rest: string } | undefined {
  const head = `${scheme}://`;
  if (raw.slice(0, head.length).toLowerCase() !== head) return undefined;
  const body = raw.slice(head.length);
  const slash = body.indexOf("/");
  return slash < 0 ? { name: body, rest: "" } : { name: body.slice(0, slash), rest: body.slice(slash + 1) };
}

/**
 * A non-empty prefix names a folder: `p1` and `p1/` both select `p1/...` and not
 * `p10/...`, and both map the same way whatever the other side's trailing slash.
 */
function folder(prefix: string): string {
  return prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
}

function checkPrefix(prefix: string, flag: string, bytes: boolean): void {
  if (/[\u0000-\u001f\u007f]/.test(prefix)) throw new ConfigError(`${flag}: the prefix contains a control character`);
  if (/[\ud800-\udfff]/.test(prefix.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ""))) {
    throw new ConfigError(`${flag}: the prefix is not valid Unicode`);
  }
  const length = bytes ? Buffer.byteLength(prefix, "utf8") : prefix.length;
  if (length > MAX_NAME) throw new ConfigError(`${flag}: the prefix is longer than ${MAX_NAME} ${bytes ? "bytes" : "characters"}`);
}

/** Parses `azure://CONTAINER[/PREFIX]`; throws ConfigError naming `flag`. */
export function parseAzureUrl(raw: string, flag: string): AzureLocation {
  const parts = split(raw, "azure");
  if (!parts) throw new ConfigError(`${flag} must look like azure://CONTAINER[/PREFIX] (got "${raw.slice(0, 80)}")`);
  if (!CONTAINER.test(parts.name)) {
    throw new ConfigError(
      `${flag}: "${parts.name.slice(0, 80)}" is not an Azure container name (3-63 lowercase letters, digits and single hyphens, or $root)`,
    );
  }
  const prefix = folder(parts.rest);
  checkPrefix(prefix, flag, false);
  return { container: parts.name, prefix };
}

/** Parses `s3://BUCKET[/PREFIX]`; throws ConfigError naming `flag`. */
export function parseS3Url(raw: string, flag: string): S3Location {
  const parts = split(raw, "s3");
  if (!parts) throw new ConfigError(`${flag} must look like s3://BUCKET[/PREFIX] (got "${raw.slice(0, 80)}")`);
  const b = parts.name;
  if (!BUCKET.test(b) || b.includes("..") || b.includes(".-") || b.includes("-.") || /^\d+\.\d+\.\d+\.\d+$/.test(b)) {
    throw new ConfigError(
      `${flag}: "${b.slice(0, 80)}" is not a bucket name (3-63 lowercase letters, digits, dots and hyphens, not an IP address)`,
    );
  }
  const prefix = folder(parts.rest);
  checkPrefix(prefix, flag, true);
  // Run state lives there: data written under it would be mistaken for state, and the reverse.
  if (prefix.startsWith(DEFAULT_STATE_PREFIX)) {
    throw new ConfigError(`${flag}: the prefix ${DEFAULT_STATE_PREFIX} is reserved for run state`);
  }
  return { bucket: b, prefix };
}

/**
 * The destination key of a blob: `sourcePrefix` replaced by `destPrefix`.
 * Throws when the blob is not under `sourcePrefix` (a caller bug, not a user error).
 */
export function mapKey(blobName: string, sourcePrefix: string, destPrefix: string): string {
  if (!blobName.startsWith(sourcePrefix)) throw new Error(`blob "${blobName.slice(0, 200)}" is not under the prefix "${sourcePrefix.slice(0, 200)}"`);
  return destPrefix + blobName.slice(sourcePrefix.length);
}
