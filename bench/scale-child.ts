/**
 * One run of the scale model, in its own process so that its peak RSS is its
 * own (bench/sections/scale.ts starts it under /usr/bin/time). The production
 * coordinator, workers and driver of `migrate run`, on: a source that makes up
 * SCALE_OBJECTS zero-byte blobs page by page (nothing held), a sink that
 * discards what it is given, the in-process queue, and the run's state in files
 * (bench/file-state-store.ts), so that what grows in memory is the pipeline's
 * own. Every state request and message is counted. Prints one JSON line.
 *
 *   SCALE_OBJECTS=100000 SCALE_SHARD=10 SCALE_STATE_DIR=/tmp/x SCALE_RUN_ID=scale
 */
import { performance } from "node:perf_hooks";
import { Readable } from "node:stream";
import { ByteBudget } from "../shared/copy/memory-budget.ts";
import { StateLayout } from "../shared/state/layout.ts";
import { DEFAULT_TUNING, MiB } from "../shared/limits.ts";
import { silentLogger } from "../shared/logger.ts";
import { driveRun, memoryTransport } from "../shared/local/run.ts";
import { parseMessage, StartRequest } from "../shared/messages.ts";
import { DEFAULT_STATE_PREFIX } from "../shared/config.ts";
import type { Deps } from "../shared/runtime/deps.ts";
import type { BlobEntry, BlobSource, ListPage, MessageBus, ObjectHead, ObjectSink, StateStore } from "../shared/ports.ts";
import { FileStateStore } from "./file-state-store.ts";
import { tuneV8 } from "../shared/runtime/v8-tuning.ts";

// As the CLI and the functions' handlers do, before the hot path first runs.
tuneV8();

const objects = Number(process.env.SCALE_OBJECTS ?? 100_000);
const shard = Number(process.env.SCALE_SHARD ?? 10);
const dir = process.env.SCALE_STATE_DIR;
const runId = process.env.SCALE_RUN_ID ?? "scale";
if (!dir || !(objects > 0) || !(shard > 0)) throw new Error("SCALE_STATE_DIR, SCALE_OBJECTS > 0 and SCALE_SHARD > 0 are needed");

const EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e";
const width = String(objects).length;
const nameOf = (i: number) => `d/${String(i).padStart(width, "0")}`;

/** `objects` zero-byte blobs d/000..., made up as they are listed. */
class SyntheticSource implements BlobSource {
  entry(i: number): BlobEntry {
    return { name: nameOf(i), size: 0, etag: `"0x${(i + 1).toString(16)}"`, lastModified: "2026-01-01T00:00:00.000Z", contentMd5: EMPTY_MD5, metadata: {}, tags: {}, accessTier: "Hot", blobType: "BlockBlob" };
  }
  index(name: string): number {
    const m = /^d\/(\d+)$/.exec(name);
    return m ? Number(m[1]) : -1;
  }
  async listPage(_container: string, options: { prefix?: string; marker?: string; pageSize?: number }): Promise<ListPage> {
    const size = Math.min(Math.max(1, options.pageSize ?? 5000), 5000);
    const prefix = options.prefix ?? "";
    if (!"d/".startsWith(prefix) && !prefix.startsWith("d/")) return { entries: [] };
    const start = options.marker ? this.index(options.marker) + 1 : 0;
    const entries: BlobEntry[] = [];
    for (let i = start; i < objects && entries.length < size; i++) {
      const e = this.entry(i);
      if (e.name.startsWith(prefix)) entries.push(e);
    }
    const last = start + entries.length;
    return { entries, nextMarker: last < objects && entries.length > 0 ? entries[entries.length - 1]!.name : undefined };
  }
  async stat(_container: string, name: string): Promise<BlobEntry | undefined> {
    const i = this.index(name);
    return i >= 0 && i < objects ? this.entry(i) : undefined;
  }
  async read(): Promise<Readable> {
    return Readable.from([]);
  }
}

/** A destination that keeps nothing: every write answers as the S3 sink does (bare ETag = MD5 of the body). */
class DiscardingSink implements ObjectSink {
  readonly etagsAreMd5 = true;
  async get(): Promise<Readable> {
    return Readable.from([]);
  }
  async bucketProtection() {
    return { versioning: false, objectLock: false };
  }
  async deleteObjects() {
    return [];
  }
  async head(): Promise<ObjectHead | undefined> {
    return undefined;
  }
  async put(_b: string, _k: string, _body: Buffer, md5Base64: string) {
    return { etag: Buffer.from(md5Base64, "base64").toString("hex") };
  }
  async createMultipart() {
    return "upload";
  }
  async uploadPart(_b: string, _k: string, _u: string, _n: number, _body: Buffer, md5Base64: string) {
    return { etag: Buffer.from(md5Base64, "base64").toString("hex") };
  }
  async listParts() {
    return [];
  }
  async completeMultipart() {
    return {};
  }
  async abortMultipart() {}
  async listKeys() {
    return { entries: [], truncated: false };
  }
  async listMultipartUploads() {
    return [];
  }
  async putTags() {}
  async putObjectLock() {}
  async getTags() {
    return {};
  }
}

const counts: Record<string, number> = {};
const timing = { aggregationStart: 0, aggregationEnd: 0 };
const c = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
const files = new FileStateStore(dir);
const state: StateStore = {
  get: (k) => (c("get"), files.get(k)),
  put: (k, b, cond) => {
    c("put");
    // The aggregation's time: from its cursor's first write to the report.
    if (k.endsWith("/aggregation.json") && cond?.ifNoneMatch) timing.aggregationStart = performance.now();
    if (k.endsWith("/report.json")) timing.aggregationEnd = performance.now();
    return files.put(k, b, cond);
  },
  delete: (k) => (c("delete"), files.delete(k)),
  list: (p) => (c("list"), files.list(p)),
  listPage: (p, o) => (c("list"), files.listPage(p, o)),
  startMultipart: (k) => (c("multipart"), files.startMultipart(k)),
  putPart: (k, u, n, b) => (c("part"), files.putPart(k, u, n, b)),
  completeMultipart: (k, u, p) => (c("multipart"), files.completeMultipart(k, u, p)),
  abortMultipart: (k, u) => (c("multipart"), files.abortMultipart(k, u)),
  lines: (k) => files.lines(k),
};

const transport = memoryTransport({ workerQueues: 2 });
let messages = 0;
const bus: MessageBus = transport.bus;
const send = bus.send.bind(bus);
bus.send = async (target, bodies) => {
  messages += bodies.length;
  return send(target, bodies);
};
const deps: Deps = {
  source: new SyntheticSource(),
  sink: new DiscardingSink(),
  state: () => state,
  bus,
  log: silentLogger,
  memory: new ByteBudget(128 * MiB),
  tuning: { ...DEFAULT_TUNING },
  layout: new StateLayout(DEFAULT_STATE_PREFIX),
  functionTimeoutMs: 900_000,
  deadlineMarginMs: 60_000,
  leaseMs: 960_000,
  now: () => Date.now(),
};
// --force: the discarding sink's empty listing is not the production one; the state work is what is measured.
const request = parseMessage(StartRequest, { v: 1, type: "start", runId, source: { container: "src" }, destination: { bucket: "dst" }, options: { shardMaxObjects: shard, force: true } });
let heapPeak = 0;
const sampler = setInterval(() => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)), 250);
const t0 = performance.now();
const report = await driveRun(deps, transport, request, "dst");
const seconds = (performance.now() - t0) / 1000;
clearInterval(sampler);
// A run shorter than the sampling period is sampled once here.
heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
// What the process still holds once the run is over (started with --expose-gc): a leak would show here, not only in the peak.
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
gc?.();
const retainedMiB = gc ? process.memoryUsage().heapUsed / MiB : NaN;
if (report.objects.copied + report.objects.skipped !== objects) throw new Error(`scale run of ${objects} ended ${JSON.stringify(report.objects)}`);
process.stdout.write(
  JSON.stringify({
    objects,
    shardObjects: shard,
    shards: report.shards,
    seconds,
    aggregationSeconds: (timing.aggregationEnd - timing.aggregationStart) / 1000,
    state: counts,
    messages,
    reportBytes: JSON.stringify(report).length,
    heapPeakMiB: heapPeak / MiB,
    retainedMiB,
    openUploads: files.openUploads,
  }) + "\n",
);
