import picomatch from "picomatch";
import type { BlobEntry } from "../ports.ts";
import type { StartOptions } from "../messages.ts";

/**
 * Include / exclude globs match the blob name relative to the source prefix
 * (`--include "*.csv"` matches at any depth, as rclone's filters do for
 * patterns without a slash). Dates compare with the blob's Last-Modified.
 */
export function blobFilter(options: StartOptions, sourcePrefix: string): (blob: BlobEntry) => boolean {
  const byName = nameFilter(options, sourcePrefix);
  const since = options.modifiedSince ? Date.parse(options.modifiedSince) : undefined;
  const before = options.modifiedBefore ? Date.parse(options.modifiedBefore) : undefined;
  return (blob) => {
    if (!byName(blob.name)) return false;
    const modified = Date.parse(blob.lastModified);
    if (since !== undefined && !(modified >= since)) return false;
    if (before !== undefined && !(modified < before)) return false;
    return true;
  };
}


/** The include / exclude globs alone: whether a blob name is within the run's scope. */
export function nameFilter(options: StartOptions, sourcePrefix: string): (name: string) => boolean {
  const compile = (globs: string[]) => globs.map((g) => picomatch(g, { dot: true, basename: !g.includes("/") }));
  const include = compile(options.include);
  const exclude = compile(options.exclude);
  return (name) => {
    const rel = name.startsWith(sourcePrefix) ? name.slice(sourcePrefix.length) : name;
    if (include.length > 0 && !include.some((m) => m(rel))) return false;
    return !exclude.some((m) => m(rel));
  };
}
