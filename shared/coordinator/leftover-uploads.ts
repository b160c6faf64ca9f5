/**
 * No litter: when a run ends, the multipart uploads it started and left open
 * are aborted. Open uploads are billed until removed, and HDS buckets can not
 * have the lifecycle rule that would remove them. An upload is the run's when
 * its key is one the run could write (under the destination prefix, through the
 * run's include/exclude filters) and it was initiated after the run was
 * created: that finds the uploads whose CreateMultipartUpload answer was lost
 * (no checkpoint knows their id) and never touches uploads of other tools,
 * older runs or other prefixes.
 */
import { nameFilter } from "./filters.ts";
import type { Deps } from "../runtime/deps.ts";
import type { RunRecord } from "../state/layout.ts";
import { describeError } from "../redact.ts";

/** Clock skew allowed between this process and the storage server. */
const SKEW_MS = 60_000;

export interface LeftoverSweep {
  aborted: number;
  /** Uploads of the run that could not be aborted (each logged). */
  failed: number;
}

export async function abortLeftoverUploads(deps: Deps, run: RunRecord): Promise<LeftoverSweep> {
  const { destination, options } = run.request;
  const names = nameFilter(options, destination.prefix);
  const since = Date.parse(run.createdAt) - SKEW_MS;
  const ours = (key: string, initiated: string | undefined) => {
    if (!key.startsWith(destination.prefix) || key.startsWith(deps.layout.prefix)) return false;
    // A server that does not say when an upload began can not prove it ours: left alone.
    if (initiated === undefined || !(Date.parse(initiated) >= since)) return false;
    return names(key);
  };
  const sweep: LeftoverSweep = { aborted: 0, failed: 0 };
  for (const u of await deps.sink.listMultipartUploads(destination.bucket, destination.prefix || undefined)) {
    if (!ours(u.key, u.initiated)) continue;
    try {
      await deps.sink.abortMultipart(destination.bucket, u.key, u.uploadId);
      sweep.aborted++;
    } catch (err) {
      sweep.failed++;
      deps.log.warn("leftover-upload-not-aborted", { runId: run.runId, key: u.key, error: describeError(err) });
    }
  }
  if (sweep.aborted > 0) deps.log.info("leftover-uploads-aborted", { runId: run.runId, aborted: sweep.aborted });
  return sweep;
}
