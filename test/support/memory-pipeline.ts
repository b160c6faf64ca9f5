/** The whole pipeline on in-memory adapters, through the same handlers and driver as `migrate run`. */
import { MemoryBlobSource } from "../fakes/blob-source.ts";
import { MemoryObjectSink } from "../fakes/object-sink.ts";
import { MemoryStateStore } from "../fakes/state-store.ts";
import { ByteBudget } from "../../shared/copy/memory-budget.ts";
import { StateLayout } from "../../shared/state/layout.ts";
import { DEFAULT_TUNING, MiB, type Tuning } from "../../shared/limits.ts";
import { silentLogger } from "../../shared/logger.ts";
import { driveRun, memoryTransport, type LocalRunOptions } from "../../shared/local/run.ts";
import { parseMessage, StartRequest } from "../../shared/messages.ts";
import type { Deps } from "../../shared/runtime/deps.ts";
import type { ObjectSink } from "../../shared/ports.ts";
import type { InProcessBus } from "../../shared/local/in-process-bus.ts";

/** `stateMinPartBytes` lowers the state store's 5 MiB part minimum, for ledgers streamed in tiny parts. */
export function memoryWorld(options: { stateMinPartBytes?: number } = {}) {
  const source = new MemoryBlobSource();
  const sink = new MemoryObjectSink();
  const stores = new Map<string, MemoryStateStore>();
  const state = (bucket: string) => {
    let s = stores.get(bucket);
    if (!s) stores.set(bucket, (s = new MemoryStateStore({ minPartBytes: options.stateMinPartBytes })));
    return s;
  };
  return { source, sink, state, stores };
}

export type MemoryWorld = ReturnType<typeof memoryWorld>;

export function startRequest(partial: { runId?: string; container?: string; sourcePrefix?: string; bucket?: string; destPrefix?: string; options?: Record<string, unknown> } = {}): StartRequest {
  return parseMessage(StartRequest, {
    v: 1,
    type: "start",
    runId: partial.runId ?? "run-test",
    source: { container: partial.container ?? "src", prefix: partial.sourcePrefix ?? "" },
    destination: { bucket: partial.bucket ?? "dst", prefix: partial.destPrefix ?? "" },
    options: partial.options ?? {},
  });
}

export interface PipelineOptions extends Pick<LocalRunOptions, "deliveryFilter" | "workerQueues"> {
  tuning?: Partial<Tuning>;
  coordinatorTimeoutMs?: number;
  workerTimeoutMs?: number;
  sink?: ObjectSink;
}

export function memoryDeps(world: MemoryWorld, bus: Deps["bus"], options: PipelineOptions = {}, timeoutMs = 60_000): Deps {
  return {
    source: world.source,
    sink: options.sink ?? world.sink,
    state: world.state,
    bus,
    log: silentLogger,
    memory: new ByteBudget(256 * MiB),
    tuning: { ...DEFAULT_TUNING, multipartThreshold: 5 * MiB, partSize: 5 * MiB, maxAttempts: 3, ...options.tuning },
    layout: new StateLayout(".migrate-state/"),
    functionTimeoutMs: timeoutMs,
    deadlineMarginMs: 0,
    leaseMs: 60_000,
    now: () => Date.now(),
  };
}

export async function runPipeline(world: MemoryWorld, request: StartRequest, options: PipelineOptions = {}) {
  const transport = memoryTransport({ ...options, recordSent: true });
  const deps = memoryDeps(world, transport.bus, options, options.coordinatorTimeoutMs);
  const workerDeps = memoryDeps(world, transport.bus, options, options.workerTimeoutMs);
  const report = await driveRun(deps, transport, request, request.destination.bucket, undefined, workerDeps);
  const store = world.state(request.destination.bucket);
  const ledgerKey = deps.layout.run(request.runId).ledger;
  const ledgerBody = (await store.get(ledgerKey))?.body ?? "";
  const ledger = ledgerBody.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  return { report, ledger, deps, bus: transport.bus as InProcessBus, store };
}
