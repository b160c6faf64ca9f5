import picomatch from "picomatch";
import type { BlobEntry } from "../ports.ts";
import type { StartOptions } from "../messages.ts";

/**
 * Include / exclude globs match the blob name relative to the source prefix
 * (`--include "*.csv"` matches at any depth, as rclone's filters do for
 * patterns without a slash). Dates compare with the blob's Last-Modified.
 */
/** The include / exclude globs alone, on a name relative to the run's prefix (source or destination). */
export function nameFilter(options: Pick<StartOptions, "include" | "exclude">): (relativeName: string) => boolean {
  const compile = (globs: string[]) => globs.map((g) => picomatch(g, { dot: true, basename: !g.includes("/") }));
  const include = compile(options.include);
  const exclude = compile(options.exclude);
  return (rel) => (include.length === 0 || include.some((m) => m(rel))) && !exclude.some((m) => m(rel));
}

export function blobFilter(options: StartOptions, sourcePrefix: string): (blob: BlobEntry) => boolean {
  const names = nameFilter(options);
  const since = options.modifiedSince ? Date.parse(options.modifiedSince) : undefined;
  const before = options.modifiedBefore ? Date.parse(options.modifiedBefore) : undefined;
  return (blob) => {
    const rel = blob.name.startsWith(sourcePrefix) ? blob.name.slice(sourcePrefix.length) : blob.name;
    if (!names(rel)) return false;
    const modified = Date.parse(blob.lastModified);
    if (since !== undefined && !(modified >= since)) return false;
    if (before !== undefined && !(modified < before)) return false;
    return true;
  };
}

