import { MigrationError } from "../errors.ts";
import { checkSource } from "./source-check.ts";
import { encode, sameStartRequest, type StartRequest } from "../messages.ts";
import type { Deps } from "../runtime/deps.ts";
import { readJson } from "../state/json.ts";
import { writeOnce } from "../state/write-once.ts";
import type { ListingCursor, RunRecord } from "../state/layout.ts";
import { listStep, type ListDeadline } from "./listing.ts";
import { reopenFailedRun } from "./reopen.ts";

export function stateBucketOf(deps: Deps, request: StartRequest): string {
  return deps.stateBucket ?? request.destination.bucket;
}

/**
 * Creates the run (idempotently: the same run id started twice is one run) and
 * lists as far as this invocation's deadline allows.
 */
export async function startRun(deps: Deps, request: StartRequest, deadline: ListDeadline): Promise<{ runId: string; created: boolean }> {
  if (request.destination.prefix.startsWith(deps.layout.prefix)) {
    throw new MigrationError("bad-request", `destination prefix may not start with the reserved state prefix ${deps.layout.prefix}`);
  }
  const stateBucket = stateBucketOf(deps, request);
  const store = deps.state(stateBucket);
  const keys = deps.layout.run(request.runId);
  if (!(await store.get(keys.record))) await checkSource(deps.source, request);
  const record: RunRecord = { runId: request.runId, request, stateBucket, createdAt: new Date(deps.now()).toISOString() };
  const created = (await writeOnce(store, keys.record, record)).created;
  if (!created) {
    const existing = await readJson<RunRecord>(store, keys.record);
    if (existing && !sameStartRequest(existing.value.request, request)) {
      throw new MigrationError("run-id-conflict", `run id ${request.runId} is already used by a different request (source, destination or options differ)`);
    }
  }
  const cursor: ListingCursor = {
    seq: 0,
    pageMarker: "",
    skipInPage: 0,
    nextShardIndex: 0,
    done: false,
    planned: { objects: 0, bytes: 0 },
    filteredOut: 0,
    archived: 0,
    startedAt: record.createdAt,
    updatedAt: record.createdAt,
    invocations: 0,
  };
  await writeOnce(store, keys.listing, cursor);
  // The same run started again after it ended with failures: retry those objects under the same id.
  if (!created) await reopenFailedRun(deps, request.runId, stateBucket);
  await store.put(deps.layout.active(request.runId), JSON.stringify({ runId: request.runId, stateBucket }));
  const current = await readJson<ListingCursor>(store, keys.listing);
  if (current && !current.value.done) {
    await listStep(deps, { runId: request.runId, stateBucket, seq: current.value.seq }, deadline);
  }
  deps.log.info("run-started", { runId: request.runId, created });
  return { runId: request.runId, created };
}

export function continueMessage(runId: string, stateBucket: string, seq: number): string {
  return encode({ v: 1, type: "continue-listing", runId, stateBucket, seq });
}
