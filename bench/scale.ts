/**
 * `npm run bench:scale`: the scale model. Whole runs on the memory ports (the
 * same coordinator, workers and driver as `migrate run`) at 10^5 and 10^6
 * objects, shards of SCALE_SHARD objects, with every state request and every
 * message counted. Prints requests per shard and per object, messages per
 * object, the aggregation's share of the time, and how each grows from one
 * size to the next (the goal: constant per shard and per object). Figures,
 * never assertions. Runs use --force: the fake sink's listing is not the
 * production one, and its cost would hide the state work measured here.
 *
 *   SCALE_SIZES=100000,1000000 SCALE_SHARD=100
 */
import { performance } from "node:perf_hooks";
import { MemoryBlobSource } from "../test/fakes/blob-source.ts";
import { MemoryObjectSink } from "../test/fakes/object-sink.ts";
import { MemoryStateStore } from "../test/fakes/state-store.ts";
import { ByteBudget } from "../shared/copy/memory-budget.ts";
import { StateLayout } from "../shared/state/layout.ts";
import { DEFAULT_TUNING, MiB } from "../shared/limits.ts";
import { silentLogger } from "../shared/logger.ts";
import { driveRun, memoryTransport } from "../shared/local/run.ts";
import { parseMessage, StartRequest } from "../shared/messages.ts";
import type { Deps } from "../shared/runtime/deps.ts";
import type { MessageBus, StateStore } from "../shared/ports.ts";

const sizes = (process.env.SCALE_SIZES ?? "100000,1000000").split(",").map(Number);
const shard = Number(process.env.SCALE_SHARD ?? 100);

interface Figures {
  objects: number;
  shards: number;
  seconds: number;
  aggregationSeconds: number;
  state: Record<string, number>;
  messages: number;
  reportBytes: number;
}

function counted(store: MemoryStateStore, counts: Record<string, number>, timing: { aggregation: number }): StateStore {
  const c = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  return {
    get: (k) => (c("get"), store.get(k)),
    put: (k, b, cond) => {
      c("put");
      // The aggregation's time: from its cursor's first write to the report.
      if (k.endsWith("/aggregation.json") && cond?.ifNoneMatch) timing.aggregation = performance.now();
      if (k.endsWith("/report.json")) timing.aggregation = performance.now() - timing.aggregation;
      return store.put(k, b, cond);
    },
    delete: (k) => (c("delete"), store.delete(k)),
    list: (p) => (c("list"), store.list(p)),
    startMultipart: (k) => (c("multipart"), store.startMultipart(k)),
    putPart: (k, u, n, b) => (c("part"), store.putPart(k, u, n, b)),
    completeMultipart: (k, u, p) => (c("multipart"), store.completeMultipart(k, u, p)),
    abortMultipart: (k, u) => (c("multipart"), store.abortMultipart(k, u)),
    lines: (k) => store.lines(k),
  };
}

async function run(objects: number): Promise<Figures> {
  const source = new MemoryBlobSource();
  for (let i = 0; i < objects; i++) source.putBlob("src", `d/${String(i).padStart(8, "0")}`, Buffer.alloc(0));
  const sink = new MemoryObjectSink();
  const store = new MemoryStateStore();
  const counts: Record<string, number> = {};
  const timing = { aggregation: 0 };
  const state = counted(store, counts, timing);
  const transport = memoryTransport({ workerQueues: 2 });
  let messages = 0;
  const bus: MessageBus = transport.bus;
  const send = bus.send.bind(bus);
  bus.send = async (target, bodies) => {
    messages += bodies.length;
    return send(target, bodies);
  };
  const deps: Deps = {
    source,
    sink,
    state: () => state,
    bus,
    log: silentLogger,
    memory: new ByteBudget(256 * MiB),
    tuning: { ...DEFAULT_TUNING },
    layout: new StateLayout(".migrate-state/"),
    functionTimeoutMs: 900_000,
    deadlineMarginMs: 60_000,
    leaseMs: 960_000,
    now: () => Date.now(),
  };
  const request = parseMessage(StartRequest, { v: 1, type: "start", runId: "scale", source: { container: "src" }, destination: { bucket: "dst" }, options: { shardMaxObjects: shard, force: true } });
  const t0 = performance.now();
  const report = await driveRun(deps, transport, request, "dst");
  const seconds = (performance.now() - t0) / 1000;
  if (report.objects.copied + report.objects.skipped !== objects) throw new Error(`scale run of ${objects} ended ${JSON.stringify(report.objects)}`);
  return { objects, shards: report.shards, seconds, aggregationSeconds: timing.aggregation / 1000, state: counts, messages, reportBytes: JSON.stringify(report).length };
}

const results: Figures[] = [];
for (const n of sizes) {
  const f = await run(n);
  results.push(f);
  const total = Object.values(f.state).reduce((s, v) => s + v, 0);
  console.log(
    `${n.toLocaleString("en-US")} objects, ${f.shards.toLocaleString("en-US")} shards: ${f.seconds.toFixed(1)} s (aggregation ${f.aggregationSeconds.toFixed(2)} s), ` +
      `state requests ${(total / f.shards).toFixed(2)}/shard ${(total / n).toFixed(3)}/object (${JSON.stringify(f.state)}), ` +
      `messages ${(f.messages / n).toFixed(4)}/object, report ${f.reportBytes} bytes`,
  );
}
for (let i = 1; i < results.length; i++) {
  const a = results[i - 1]!;
  const b = results[i]!;
  const per = (f: Figures) => Object.values(f.state).reduce((s, v) => s + v, 0) / f.shards;
  console.log(
    `${a.objects} -> ${b.objects}: state requests per shard x${(per(b) / per(a)).toFixed(3)}, messages per object x${(b.messages / b.objects / (a.messages / a.objects)).toFixed(3)}, ` +
      `aggregation time x${(b.aggregationSeconds / Math.max(1e-6, a.aggregationSeconds)).toFixed(2)} for x${(b.shards / a.shards).toFixed(0)} shards, report size x${(b.reportBytes / a.reportBytes).toFixed(2)}`,
  );
}
