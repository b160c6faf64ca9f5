/**
 * The check that a run's source can be listed, before anything is written.
 * Retrying is the client's (one policy for every request); this only says what
 * the final answer means: what retrying can not fix is the request's fault
 * (bad-request), a server that never answered is unreachable (a configuration
 * problem of this machine), and a server that kept answering 5xx/429 is
 * unavailable for now (try again later, never a configuration error).
 */
import { MigrationError } from "../errors.ts";
import type { BlobSource } from "../ports.ts";
import { describeError } from "../redact.ts";
import { answeredStatus, classify } from "../retry.ts";
import type { StartRequest } from "../messages.ts";

export async function checkSource(source: BlobSource, request: StartRequest): Promise<void> {
  const { container, prefix } = request.source;
  try {
    await source.listPage(container, { prefix: prefix || undefined, pageSize: 1 });
  } catch (err) {
    const cls = classify(err);
    const status = answeredStatus(err);
    if (cls === "gone" || status === 404) throw new MigrationError("bad-request", `source container ${container} does not exist`);
    if (cls === "permanent" && (status === 403 || status === 401)) {
      throw new MigrationError("bad-request", `the Azure account refused to list container ${container}: check the key, SAS token (needs list and read), connection string, or the service principal's role (Storage Blob Data Reader) (${describeError(err)})`);
    }
    if (cls === "permanent") throw new MigrationError("bad-request", `source container ${container} can not be listed: ${describeError(err)}`);
    if (status !== undefined) {
      throw new MigrationError("source-unavailable", `the Azure endpoint kept answering ${status} (throttled or unavailable); nothing was written, start the run again later: ${describeError(err)}`);
    }
    throw new MigrationError("source-unreachable", `the Azure endpoint is not reachable: ${describeError(err)}`);
  }
}
