/**
 * `migrate run`: the deployed coordinator and worker handlers, run in this
 * process. Messages go through an in-process queue with Scaleway's trigger
 * semantics, or through a real SQS queue polled the way the trigger does.
 */
import type { AppConfig } from "../config.ts";
import { createBlobHttp, createS3Http, lazyBlobServiceClient } from "../clients.ts";
import type { RetryPolicy } from "../retry.ts";
import { AzureBlobSource } from "../azure/blob-source.ts";
import { checkSource } from "../coordinator/source-check.ts";
import { bucketExists, createBucket } from "../s3/bucket.ts";
import { ConfigError, MigrationError } from "../errors.ts";
import { encode, sameStartRequest, type StartRequest } from "../messages.ts";
import type { Logger } from "../logger.ts";
import { silentLogger } from "../logger.ts";
import { buildDeps } from "../runtime/composition-root.ts";
import type { Deps } from "../runtime/deps.ts";
import { createCoordinatorHandler } from "../coordinator/handler.ts";
import { createWorkerHandler } from "../worker/handler.ts";
import { queueEvent, type FunctionHandler } from "../runtime/http.ts";
import type { Transport } from "./transport.ts";
import { InProcessBus } from "./in-process-bus.ts";
import { aggregate } from "../coordinator/aggregate.ts";
import { sweep } from "../coordinator/sweep.ts";
import type { RunRecord, RunReport } from "../state/layout.ts";
import { readJson } from "../state/json.ts";
import type { ProgressEvent } from "../copy/types.ts";
import { checkHdsDestination } from "../provision/hds.ts";

export interface LocalRunOptions {
  config: AppConfig;
  request: StartRequest;
  queue?: "memory" | "sqs";
  workerQueues?: number;
  log?: Logger;
  onProgress?: (event: ProgressEvent) => void;
  /** Called once the run exists, with the deps (status polling by the CLI). */
  onStarted?: (deps: Deps, stateBucket: string) => void;
  /** Test hook: transform deliveries of the in-process queue (duplicates, reordering). */
  deliveryFilter?: InProcessBus["deliveryFilter"];
}

/**
 * Pre-flight checks take the run's retry policy with a shorter budget: a
 * storm or a restart is ridden through, a wrong endpoint is said within
 * half a minute instead of the full budget.
 */
const PREFLIGHT_BUDGET_MS = 30_000;

function preflightPolicy(config: AppConfig): RetryPolicy {
  return { ...config.retry, budgetMs: Math.min(config.retry.budgetMs, PREFLIGHT_BUDGET_MS) };
}

/** The source answers a listing of the container, with the pre-flight budget (the coordinator checks again). */
async function ensureSource(config: AppConfig, request: StartRequest): Promise<void> {
  const policy = preflightPolicy(config);
  const http = createBlobHttp(config.azure, policy);
  const source = new AzureBlobSource(lazyBlobServiceClient(config.azure, policy), http);
  try {
    await checkSource(source, request);
  } catch (err) {
    if (err instanceof MigrationError && (err.code === "bad-request" || err.code === "source-unreachable")) throw new ConfigError(err.message, { cause: err });
    throw err;
  } finally {
    http?.destroy();
  }
}

export type { Transport } from "./transport.ts";

export function memoryTransport(options: Pick<LocalRunOptions, "workerQueues" | "deliveryFilter"> & { recordSent?: boolean }): Transport {
  const bus = new InProcessBus({ workerQueues: options.workerQueues ?? 2, recordSent: options.recordSent });
  bus.deliveryFilter = options.deliveryFilter;
  return {
    bus,
    attach: (h) => bus.attach(h),
    drained: () => bus.drained(),
    deadLetters: () => bus.deadLetters.map((d) => `${d.queue}: ${d.lastStatus}`),
    close: async () => bus.stop(),
  };
}

/** Runs a migration to its report. Throws ConfigError (exit 2) for a refused request. */
export async function runLocal(options: LocalRunOptions): Promise<RunReport> {
  const { config, request } = options;
  const stateBucket = config.stateBucket ?? request.destination.bucket;
  await preflight(config, request, stateBucket);
  // The SQS transport (and the SDK it needs) is loaded only when asked for.
  const transport = options.queue === "sqs" ? await (await import("./sqs-transport.ts")).sqsTransport(config, request.runId, options.workerQueues) : memoryTransport(options);
  const deps = buildDeps(config, { bus: transport.bus, log: options.log ?? silentLogger });
  deps.onProgress = options.onProgress;
  // In one process the start request never crosses a network: no start token.
  deps.startToken = undefined;
  return driveRun(deps, transport, request, stateBucket, options.onStarted);
}

/**
 * The source answers and the buckets exist, checked at once (a round trip each
 * over a WAN). A failure is reported in this order whatever answered first:
 * the source, the destination, the state bucket. A missing bucket is created
 * (exit 2 only for what retrying can not fix: denied, never reachable) once
 * every check passed, so a refused run leaves no bucket behind.
 */
async function preflight(config: AppConfig, request: StartRequest, stateBucket: string): Promise<void> {
  const destination = request.destination.bucket;
  const http = createS3Http(config.s3, preflightPolicy(config));
  try {
    const checks = await Promise.allSettled([
      ensureSource(config, request),
      request.options.hds ? checkHdsDestination(config, destination).then(() => true) : bucketExists(http, destination),
      stateBucket === destination ? true : bucketExists(http, stateBucket),
    ]);
    for (const c of checks) if (c.status === "rejected") throw c.reason;
    const [, destinationExists, stateExists] = checks as Array<PromiseFulfilledResult<boolean>>;
    const missing = [...(destinationExists!.value ? [] : [destination]), ...(stateExists!.value ? [] : [stateBucket])];
    if (missing.length > 0) {
      const { createS3Client } = await import("../sdk-clients.ts");
      const s3 = createS3Client(config.s3, preflightPolicy(config));
      try {
        for (const bucket of missing) await createBucket(s3, bucket);
      } finally {
        s3.destroy();
      }
    }
  } finally {
    http.destroy();
  }
}

/**
 * Starts (or resumes) a run through the coordinator handler and drives it to its
 * report: waits until the queues drain, then sweeps what a lost message or an
 * earlier, killed process left. Closes the transport.
 */
export async function driveRun(
  deps: Deps,
  transport: Transport,
  request: StartRequest,
  stateBucket: string,
  onStarted?: LocalRunOptions["onStarted"],
  /** Worker dependencies when they differ from the coordinator's (another deadline, a faulty sink). */
  workerDeps: Deps = deps,
): Promise<RunReport> {
  const coordinator = createCoordinatorHandler(() => deps);
  const worker = createWorkerHandler(() => workerDeps, { takeOverForeignLeases: true });
  try {
    const record = await readJson<RunRecord>(deps.state(stateBucket), deps.layout.run(request.runId).record);
    if (record && !sameStartRequest(record.value.request, request)) {
      throw new ConfigError(`run id ${request.runId} is already used by a different request (source, destination or options differ)`);
    }
    // A run with no record has no report either: one round trip less to start a new run.
    const existing = record ? await aggregate(deps, request.runId, stateBucket) : undefined;
    // A run that ended with failures is retried by starting it again (the coordinator reopens it).
    if (existing && (existing.status === "succeeded" || existing.dryRun)) return existing;
    transport.attach({ coordinator, worker });
    // A direct call, as an HTTP caller makes one: a refused start comes back as 400/409, never recorded as a queue delivery's.
    const start = queueEvent(encode(request));
    const res = await coordinator({ ...start, headers: { ...start.headers, "x-migrate-client": "migrate-run" } }, {});
    if (res.statusCode === 400 || res.statusCode === 409) {
      throw new ConfigError(JSON.parse(res.body ?? "{}").error ?? `start refused (${res.statusCode})`);
    }
    if (res.statusCode >= 300) {
      const why = JSON.parse(res.body ?? "{}").error ?? res.statusCode;
      throw new MigrationError("start-failed", `the coordinator could not start the run: ${why}`);
    }
    onStarted?.(deps, stateBucket);
    for (let round = 0; ; round++) {
      await transport.drained();
      const report = await aggregate(deps, request.runId, stateBucket);
      if (report) return report;
      // Nothing in flight and no report: finish what a lost message or an earlier process left.
      const swept = await sweep(deps, { runId: request.runId, stateBucket }, { everythingSilent: true });
      if (swept.finished) {
        const r = await aggregate(deps, request.runId, stateBucket);
        if (r) return r;
      }
      if (swept.resentShards + swept.resentListings === 0 || round > 20) {
        const dead = transport.deadLetters();
        throw new MigrationError("run-stalled", `run ${request.runId} stalled with no work in flight${dead.length ? `; failed deliveries: ${dead.slice(0, 5).join("; ")}` : ""}`);
      }
    }
  } finally {
    await transport.close();
  }
}
