import { MigrationError } from "../errors.ts";
import { checkSource } from "./source-check.ts";
import { classify, withRetry } from "../retry.ts";
import { describeError } from "../redact.ts";
import { encode, sameStartRequest, type StartRequest } from "../messages.ts";
import type { Deps } from "../runtime/deps.ts";
import { readJson } from "../state/json.ts";
import { writeOnce } from "../state/write-once.ts";
import type { ListingCursor, RunRecord } from "../state/layout.ts";
import { listStep, type ListDeadline } from "./listing.ts";
import { reopenFailedRun } from "./reopen.ts";
import { checkDestinationKey, recordDestinationKey } from "./destination-key.ts";
import { storageClassMapOf } from "../copy/storage-class.ts";
import { HDS_FORBIDDEN_CLASSES, HDS_REGION } from "../provision/hds.ts";


/**
 * A destination that keeps versions or has Object Lock can not hold the run state:
 * state objects are rewritten constantly (versions pile up, billed) and some must be
 * deleted (a lock forbids it). Such a run needs its own STATE_BUCKET.
 */
async function checkDestinationBucket(deps: Deps, request: StartRequest, stateBucket: string): Promise<boolean | undefined> {
  const { bucket } = request.destination;
  let protection;
  try {
    protection = await withRetry(() => deps.sink.bucketProtection(bucket), { attempts: 3 });
  } catch (err) {
    if ((err as Error).name === "NoSuchBucket" || classify(err) === "gone") {
      throw new MigrationError("bad-request", `destination bucket ${bucket} does not exist${request.options.hds ? "; HDS-certified buckets are created in the Scaleway console" : ""}`);
    }
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 403) throw err;
    // A key without the right to read bucket settings: say so, and go on as before this check existed.
    deps.log.warn("bucket-settings-unreadable", { bucket, error: describeError(err) });
    if (request.options.requireImmutability) throw new MigrationError("bad-request", `--require-immutability: the Object Lock setting of bucket ${bucket} can not be read with these S3 credentials`);
    return undefined;
  }
  if (request.options.requireImmutability && !protection.objectLock) {
    throw new MigrationError("bad-request", `--require-immutability: destination bucket ${bucket} has no Object Lock (it can only be enabled when the bucket is created)`);
  }
  if (stateBucket === bucket && (protection.versioning || protection.objectLock)) {
    const what = protection.objectLock ? "Object Lock" : "versioning";
    throw new MigrationError(
      "bad-request",
      `destination bucket ${bucket} has ${what}: the run state can not live there (state objects are rewritten and deleted); set STATE_BUCKET to a separate bucket`,
    );
  }
  return protection.objectLock;
}

export function stateBucketOf(deps: Deps, request: StartRequest): string {
  return deps.stateBucket ?? request.destination.bucket;
}

/**
 * Creates the run (idempotently: the same run id started twice is one run) and
 * lists as far as this invocation's deadline allows.
 */
export async function startRun(deps: Deps, request: StartRequest, deadline: ListDeadline): Promise<{ runId: string; created: boolean }> {
  if (request.options.hds) {
    const classes = Object.values(storageClassMapOf(request.options) ?? {});
    if (classes.some((c) => HDS_FORBIDDEN_CLASSES.has(c))) throw new MigrationError("bad-request", "--hds: GLACIER is not a class HDS-certified buckets offer");
    if (deps.s3Region && deps.s3Region !== HDS_REGION) throw new MigrationError("bad-request", `--hds: HDS-certified buckets exist only in ${HDS_REGION}, and S3_REGION is ${deps.s3Region}`);
  }
  if (request.destination.prefix.startsWith(deps.layout.prefix)) {
    throw new MigrationError("bad-request", `destination prefix may not start with the reserved state prefix ${deps.layout.prefix}`);
  }
  const stateBucket = stateBucketOf(deps, request);
  const store = deps.state(stateBucket);
  const keys = deps.layout.run(request.runId);
  const keyMd5 = deps.sink.customerKeyMd5 ?? null;
  const previous = await readJson<RunRecord>(store, keys.record);
  let objectLock: boolean | undefined;
  if (!previous) {
    // Independent checks, at once (a round trip each over a WAN); a failure is reported in this
    // order whatever answered first: the source, the bucket, then the key.
    const checks = await Promise.allSettled([
      checkSource(deps.source, request),
      checkDestinationBucket(deps, request, stateBucket),
      checkDestinationKey(deps, request, stateBucket),
    ]);
    for (const c of checks) if (c.status === "rejected") throw c.reason;
    objectLock = (checks[1] as PromiseFulfilledResult<boolean | undefined>).value;
  } else if (previous.value.sseCustomerKeyMd5 !== undefined && previous.value.sseCustomerKeyMd5 !== keyMd5 && !request.options.force) {
    throw new MigrationError(
      "bad-request",
      `run ${request.runId} was started with ${previous.value.sseCustomerKeyMd5 === null ? "no SSE-C key" : "another SSE-C key"}; resume it with the same S3_SSE_C_KEY`,
    );
  }
  const record: RunRecord = { runId: request.runId, request, stateBucket, createdAt: new Date(deps.now()).toISOString(), sseCustomerKeyMd5: keyMd5, ...(objectLock ? { destinationObjectLock: true } : {}) };
  const created = (await writeOnce(store, keys.record, record)).created;
  let run: RunRecord | undefined = record;
  if (!created) {
    run = (await readJson<RunRecord>(store, keys.record))?.value;
    if (run && !sameStartRequest(run.request, request)) {
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
  await Promise.all([
    // Also on a resume or a duplicate start (idempotent): a start that crashed right after the run record still records its key.
    request.options.dryRun ? undefined : recordDestinationKey(deps, request, stateBucket),
    // Nothing is listed (so nothing copied) before both are written.
    writeOnce(store, keys.listing, cursor),
  ]);
  // The same run started again after it ended with failures: retry those objects under the same id.
  if (!created) await reopenFailedRun(deps, request.runId, stateBucket);
  const [, current] = await Promise.all([
    store.put(deps.layout.active(request.runId), JSON.stringify({ runId: request.runId, stateBucket })),
    readJson<ListingCursor>(store, keys.listing),
  ]);
  if (current && !current.value.done) {
    await listStep(deps, { runId: request.runId, stateBucket, seq: current.value.seq }, deadline, run && { run, cursor: current });
  }
  deps.log.info("run-started", { runId: request.runId, created });
  return { runId: request.runId, created };
}

export function continueMessage(runId: string, stateBucket: string, seq: number): string {
  return encode({ v: 1, type: "continue-listing", runId, stateBucket, seq });
}
