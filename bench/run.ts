/**
 * `npm run bench`: where we stand against rclone and against the servers'
 * own limit, on fresh local servers (Azurite -> Ceph RGW), in one run. Prints
 * a table and writes bench/results/bench-<timestamp>.json. Figures, never
 * assertions: nothing here is part of `npm test`.
 *
 * Sizes (defaults; BENCH_QUICK=1 shrinks everything for a smoke run):
 *   BENCH_RUNS=3              best of N per tool and corpus, the tools alternating
 *   BENCH_LARGE_COUNT=2 BENCH_LARGE_MB=512
 *   BENCH_SMALL_COUNT=5000 BENCH_SMALL_KB=16
 *   BENCH_MIX_LARGE_MB=256 BENCH_MIX_MEDIUM_COUNT=20 BENCH_MIX_SMALL_COUNT=1000
 *   BENCH_MEMORY_MB=2048      the blob of the memory measurement
 *   BENCH_PLAN_BLOBS=100000   zero-byte blobs of the planning measurement (listed by bench/list-server.ts;
 *                             BENCH_PLAN_SOURCE=azurite seeds them in Azurite, slow beyond ~10,000)
 *   BENCH_REQUEST_BLOBS=200   small blobs of the request count
 *   BENCH_RAW_ROUNDS=3        rounds of each raw measurement (after one warm-up)
 *   BENCH_SKIP=cold,limit,copy,memory,requests,planning   sections to leave out
 *   BENCH_RCLONE_FLAGS="..."  rclone's flags instead of the tuned set
 *   BENCH_CPU_PROFILE=1       also run one copy of each corpus with node --cpu-prof (bench/results/prof-*)
 * Tuning variables of the CLI (PART_SIZE_MB, OBJECT_CONCURRENCY, ...) set here are passed on to `migrate run`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, cpus, totalmem } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { execFileSync } from "node:child_process";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { createBlobServiceClient, createS3Client } from "../shared/clients.ts";
import { DEFAULT_RETRY_POLICY } from "../shared/retry.ts";
import { freePort, startAzurite, startRgw, type AzuriteServer, type S3Server } from "../shared/local/servers.ts";
import { DEFAULT_TUNING, MiB } from "../shared/limits.ts";
import { cpuDiff, cpuSnapshot, formatCpu, killChildren, loadAverage, markServers, runTimed, type Timed } from "./proc.ts";
import { deletePrefix, listAll, putEmptyBlobs, uploadLargeBlob, uploadSmallBlobs } from "./corpus.ts";
import { rawRead, rawSmallGets, rawSmallPuts, rawWrite } from "./raw.ts";
import { startListServer } from "./list-server.ts";
import { classifyAzure, classifyS3, startCountProxy, type RequestCounts } from "./count-proxy.ts";
import { accountSas, migrateEnv, RCLONE_FLAGS, ROOT, runMigrate, runRclone, writeRcloneConfig, type Endpoints } from "./tools.ts";

const QUICK = /^(1|true|yes)$/i.test(process.env.BENCH_QUICK ?? "");
function num(name: string, full: number, quick: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return QUICK ? quick : full;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number >= 0 (got "${raw}")`);
  return n;
}

const P = {
  runs: num("BENCH_RUNS", 3, 1),
  largeCount: num("BENCH_LARGE_COUNT", 2, 2),
  largeBytes: num("BENCH_LARGE_MB", 512, 64) * MiB,
  smallCount: num("BENCH_SMALL_COUNT", 5000, 500),
  smallBytes: num("BENCH_SMALL_KB", 16, 16) * 1024,
  mixLargeBytes: num("BENCH_MIX_LARGE_MB", 256, 32) * MiB,
  mixMediumCount: num("BENCH_MIX_MEDIUM_COUNT", 20, 5),
  mixMediumBytes: 4 * MiB,
  mixSmallCount: num("BENCH_MIX_SMALL_COUNT", 1000, 100),
  memoryBytes: num("BENCH_MEMORY_MB", 2048, 256) * MiB,
  planBlobs: num("BENCH_PLAN_BLOBS", 100_000, 5000),
  requestBlobs: num("BENCH_REQUEST_BLOBS", 200, 50),
  rawRounds: num("BENCH_RAW_ROUNDS", 3, 1),
  smallInFlight: 32,
  cpuProfile: /^(1|true)$/i.test(process.env.BENCH_CPU_PROFILE ?? ""),
};
const SKIP = new Set((process.env.BENCH_SKIP ?? "").split(",").map((s) => s.trim()).filter(Boolean));

const GOALS = {
  largeFraction: 0.9,
  smallFraction: 0.9,
  rssMiB: 256,
  planRssMiB: 200,
  importMs: 300,
};

const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const mb = (bps: number) => `${(bps / 1e6).toFixed(1)} MB/s`;
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

interface Row {
  section: string;
  what: string;
  value: string;
  goal?: string;
  met?: boolean;
}
const rows: Row[] = [];
const results: Record<string, unknown> = {};
function row(r: Row) {
  rows.push(r);
  log(`${r.section} | ${r.what}: ${r.value}${r.goal ? ` (goal ${r.goal}: ${r.met ? "met" : "MISSED"})` : ""}`);
}

function best<T>(xs: T[], key: (x: T) => number): T {
  return xs.reduce((a, b) => (key(b) < key(a) ? b : a));
}

// ---------------------------------------------------------------------------

/** Cold start: import each built bundle in a fresh node and answer a malformed message. */
async function coldStart(): Promise<void> {
  log("building the bundles (npm run build)...");
  execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs"), "--no-measure"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "",
    NODE_ENV: "production",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    // Dummy but valid configuration: nothing is reached for a malformed message.
    AZURE_STORAGE_CONNECTION_STRING: "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=ZHVtbXk=;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;",
    S3_ENDPOINT: "http://127.0.0.1:9",
    S3_REGION: "fr-par",
    S3_ACCESS_KEY_ID: "dummy",
    S3_SECRET_ACCESS_KEY: "dummy-secret",
    S3_FORCE_PATH_STYLE: "true",
    STATE_BUCKET: "bench-state",
    SQS_ENDPOINT: "http://127.0.0.1:9",
    SQS_ACCESS_KEY_ID: "dummy",
    SQS_SECRET_ACCESS_KEY: "dummy-secret",
    WORKER_QUEUE_URLS: "http://127.0.0.1:9/000/worker-0",
    CONTROL_QUEUE_URL: "http://127.0.0.1:9/000/control",
  };
  const out: Record<string, unknown> = {};
  for (const name of ["coordinator", "worker"]) {
    const file = pathToFileURL(join(ROOT, "dist", name, "handler.js")).href;
    const script = [
      "const t0 = performance.now();",
      `const m = await import(${JSON.stringify(file)});`,
      "const t1 = performance.now();",
      'const r = await m.handle({ body: "{not json", headers: { "content-type": "application/json" }, httpMethod: "POST", path: "/", isBase64Encoded: false }, {});',
      "const t2 = performance.now();",
      "console.log(JSON.stringify({ importMs: t1 - t0, handleMs: t2 - t1, status: r.statusCode, sinceStartMs: t2 }));",
    ].join("\n");
    const runs: Array<{ importMs: number; handleMs: number; status: number; sinceStartMs: number; processMs: number }> = [];
    for (let i = 0; i < 5; i++) {
      const r = await runTimed(process.execPath, ["--input-type=module", "-e", script, "bench-cold"], env, { cwd: tmpdir(), timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`cold start of ${name} failed: ${r.stderr.slice(-1000)}`);
      runs.push({ ...JSON.parse(r.stdout.trim().split("\n").at(-1)!), processMs: r.seconds * 1000 });
    }
    const sorted = (k: "importMs" | "handleMs" | "processMs") => runs.map((x) => x[k]).sort((a, b) => a - b);
    const med = (k: "importMs" | "handleMs" | "processMs") => sorted(k)[2]!;
    const status = runs[0]!.status;
    out[name] = { runs, medianImportMs: med("importMs"), medianHandleMs: med("handleMs"), medianProcessMs: med("processMs"), status };
    row({
      section: "cold start",
      what: `${name} bundle: import / handle malformed message (answer ${status}) / whole process`,
      value: `${med("importMs").toFixed(0)} ms / ${med("handleMs").toFixed(0)} ms / ${med("processMs").toFixed(0)} ms (median of 5; import max ${sorted("importMs")[4]!.toFixed(0)} ms)`,
      goal: `import <= ${GOALS.importMs} ms, answer 200`,
      met: med("importMs") <= GOALS.importMs && status === 200,
    });
  }
  results.coldStart = out;
}

// ---------------------------------------------------------------------------

interface Ctx {
  azurite: AzuriteServer;
  rgw: S3Server;
  s3: ReturnType<typeof createS3Client>;
  blob: ReturnType<typeof createBlobServiceClient>;
  container: string;
  bucket: string;
  stateBucket: string;
  sas: string;
  rcloneConf: string;
  dir: string;
  endpoints: Endpoints;
}

interface Corpus {
  name: string;
  prefix: string;
  objects: number;
  bytes: number;
  largeBytes: number;
  smallObjects: number;
}

async function seedCorpora(ctx: Ctx): Promise<Corpus[]> {
  const c = ctx.blob.getContainerClient(ctx.container);
  await c.createIfNotExists();
  const corpora: Corpus[] = [];
  let t0 = Date.now();
  for (let i = 0; i < P.largeCount; i++) await uploadLargeBlob(c, `large/blob-${i}.bin`, P.largeBytes);
  log(`seeded large: ${P.largeCount} x ${P.largeBytes / MiB} MiB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  corpora.push({ name: "large", prefix: "large/", objects: P.largeCount, bytes: P.largeCount * P.largeBytes, largeBytes: P.largeCount * P.largeBytes, smallObjects: 0 });
  t0 = Date.now();
  await uploadSmallBlobs(c, "small/", P.smallCount, P.smallBytes);
  log(`seeded small: ${P.smallCount} x ${P.smallBytes / 1024} KiB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  corpora.push({ name: "small", prefix: "small/", objects: P.smallCount, bytes: P.smallCount * P.smallBytes, largeBytes: 0, smallObjects: P.smallCount });
  t0 = Date.now();
  await uploadLargeBlob(c, "mix/large.bin", P.mixLargeBytes);
  await uploadSmallBlobs(c, "mix/medium-", P.mixMediumCount, P.mixMediumBytes, 4);
  await uploadSmallBlobs(c, "mix/small-", P.mixSmallCount, P.smallBytes);
  log(`seeded mix in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  corpora.push({
    name: "mix",
    prefix: "mix/",
    objects: 1 + P.mixMediumCount + P.mixSmallCount,
    bytes: P.mixLargeBytes + P.mixMediumCount * P.mixMediumBytes + P.mixSmallCount * P.smallBytes,
    largeBytes: P.mixLargeBytes + P.mixMediumCount * P.mixMediumBytes,
    smallObjects: P.mixSmallCount,
  });
  return corpora;
}

interface Limits {
  readBps: number;
  /** One whole-blob GET per blob: Azurite serves this pattern far faster than parallel ranges. */
  streamReadBps: number;
  writeBps: number;
  getsPerSecond: number;
  putsPerSecond: number;
  concurrency: number;
}

/** Raw throughput of the servers, best of a few rounds after a warm-up round. */
async function measureLimits(ctx: Ctx): Promise<Limits> {
  const partSize = DEFAULT_TUNING.partSize;
  // In flight while the engine copies the large corpus: parts of every object, bounded by its memory budget.
  const concurrency = Number(process.env.BENCH_RAW_CONCURRENCY) || Math.min(P.largeCount * DEFAULT_TUNING.partConcurrency, Math.floor(DEFAULT_TUNING.memoryBudget / partSize));
  // Azurite serves parallel ranged GETs slowly: read at most 128 MiB of each blob per round to keep the benchmark short.
  const readBytes = Math.min(P.largeBytes, 128 * MiB);
  const urls = Array.from({ length: P.largeCount }, (_, i) => ({ url: `${ctx.azurite.endpoint}/${ctx.container}/large/blob-${i}.bin?${ctx.sas}`, size: readBytes }));
  const reads: number[] = [];
  const writes: number[] = [];
  const streamReads: number[] = [];
  log(`limit: raw ranged GETs from Azurite and multipart uploads to RGW, ${P.largeCount} x ${P.largeBytes / MiB} MiB, ${partSize / MiB} MiB parts, ${concurrency} in flight`);
  await rawWrite(ctx.s3, ctx.bucket, "raw-warmup/", P.largeCount, P.largeBytes, partSize, concurrency); // warm-up: a fresh Ceph is slow on its first writes
  await deletePrefix(ctx.s3, ctx.bucket, "raw-warmup/");
  for (let r = 0; r < P.rawRounds; r++) {
    reads.push(await rawRead(urls, partSize, concurrency));
    // One whole-blob GET per blob, as rclone reads (it streams each blob once, uploading its chunks in parallel).
    streamReads.push(await rawRead(urls.map((u) => ({ ...u, size: P.largeBytes })), P.largeBytes, P.largeCount));
    writes.push(await rawWrite(ctx.s3, ctx.bucket, `raw-${r}/`, P.largeCount, P.largeBytes, partSize, concurrency));
    await deletePrefix(ctx.s3, ctx.bucket, `raw-${r}/`);
  }
  log(`  reads ${reads.map(mb).join(", ")}; one stream per blob ${streamReads.map(mb).join(", ")}; writes ${writes.map(mb).join(", ")}`);
  const smallCount = Math.min(P.smallCount, 2000);
  const smallUrls = Array.from({ length: smallCount }, (_, i) => `${ctx.azurite.endpoint}/${ctx.container}/small/${String(i).padStart(6, "0")}.bin?${ctx.sas}`);
  const gets: number[] = [];
  const puts: number[] = [];
  await rawSmallPuts(ctx.s3, ctx.bucket, "raw-small-warmup/", Math.min(500, smallCount), P.smallBytes, P.smallInFlight);
  await deletePrefix(ctx.s3, ctx.bucket, "raw-small-warmup/");
  for (let r = 0; r < P.rawRounds; r++) {
    gets.push(await rawSmallGets(smallUrls, P.smallInFlight));
    puts.push(await rawSmallPuts(ctx.s3, ctx.bucket, `raw-small-${r}/`, smallCount, P.smallBytes, P.smallInFlight));
    await deletePrefix(ctx.s3, ctx.bucket, `raw-small-${r}/`);
  }
  log(`  small GETs ${gets.map((x) => x.toFixed(0)).join(", ")} /s; PUTs ${puts.map((x) => x.toFixed(0)).join(", ")} /s`);
  const l: Limits = { readBps: Math.max(...reads), streamReadBps: Math.max(...streamReads), writeBps: Math.max(...writes), getsPerSecond: Math.max(...gets), putsPerSecond: Math.max(...puts), concurrency };
  results.limits = { ...l, rounds: { reads, streamReads, writes, gets, puts }, partSize, smallInFlight: P.smallInFlight, smallObjectsPerRound: smallCount };
  row({ section: "limit", what: `raw read, Azurite ranged GETs (${partSize / MiB} MiB, ${concurrency} in flight, ${(P.largeCount * readBytes) / MiB} MiB per round), best of ${P.rawRounds}`, value: mb(l.readBps) });
  row({ section: "limit", what: `raw read, Azurite, one whole-blob GET per blob (${P.largeCount} in flight, rclone's pattern), best of ${P.rawRounds}`, value: mb(Math.max(...streamReads)) });
  row({ section: "limit", what: `raw write, RGW multipart (${partSize / MiB} MiB parts, ${concurrency} in flight), best of ${P.rawRounds} after a warm-up`, value: mb(l.writeBps) });
  row({ section: "limit", what: `raw small GETs from Azurite (${P.smallBytes / 1024} KiB, ${P.smallInFlight} in flight)`, value: `${l.getsPerSecond.toFixed(0)} objects/s` });
  row({ section: "limit", what: `raw small PUTs to RGW (${P.smallBytes / 1024} KiB, ${P.smallInFlight} in flight)`, value: `${l.putsPerSecond.toFixed(0)} objects/s` });
  return l;
}

/** Seconds the servers need at their limit for this corpus: bytes at min(read, write), small objects at min(GETs, PUTs). */
function limitSeconds(c: Corpus, l: Limits, bestRead = false): number {
  const read = bestRead ? Math.max(l.readBps, l.streamReadBps) : l.readBps;
  return c.largeBytes / Math.min(read, l.writeBps) + c.smallObjects / Math.min(l.getsPerSecond, l.putsPerSecond);
}

interface CopyRun {
  tool: "migrate" | "rclone";
  round: number;
  seconds: number;
  maxRssMiB: number;
  cpuSeconds: number;
  machineCpu: Record<string, number>;
  load: string;
}

async function verifyCopy(ctx: Ctx, prefix: string, corpus: Corpus): Promise<void> {
  const got = await listAll(ctx.s3, ctx.bucket, prefix);
  const bytes = got.reduce((a, o) => a + o.size, 0);
  if (got.length !== corpus.objects || bytes !== corpus.bytes) throw new Error(`copy to ${prefix}: ${got.length} objects / ${bytes} bytes, expected ${corpus.objects} / ${corpus.bytes}`);
}

async function copyOnce(ctx: Ctx, tool: "migrate" | "rclone", corpus: Corpus, round: number, nodeFlags: string[] = []): Promise<CopyRun> {
  const dest = `${tool}-${corpus.name}-${round}/`;
  const load = loadAverage();
  const before = cpuSnapshot();
  let r: Timed;
  if (tool === "migrate") {
    const m = await runMigrate(`${ctx.container}/${corpus.prefix}`, `${ctx.bucket}/${dest}`, migrateEnv(ctx.endpoints), ["--run-id", `bench-${corpus.name}-${round}-${Date.now()}`], nodeFlags);
    if (m.code !== 0 || m.report.objects.copied !== corpus.objects) throw new Error(`migrate run of ${corpus.name}: exit ${m.code}, ${JSON.stringify(m.report.objects)} ${JSON.stringify(m.report.failures.slice(0, 3))}`);
    r = m;
  } else {
    r = await runRclone(ctx.rcloneConf, `${ctx.container}/${corpus.prefix}`, `${ctx.bucket}/${dest}`);
  }
  const machineCpu = cpuDiff(before);
  machineCpu[tool] = (machineCpu[tool] ?? 0) + r.userSeconds + r.sysSeconds;
  await verifyCopy(ctx, dest, corpus);
  await deletePrefix(ctx.s3, ctx.bucket, dest);
  const run: CopyRun = { tool, round, seconds: r.seconds, maxRssMiB: r.maxRssMiB, cpuSeconds: r.userSeconds + r.sysSeconds, machineCpu, load };
  log(`  ${corpus.name} ${tool} #${round + 1}: ${r.seconds.toFixed(2)} s, RSS ${r.maxRssMiB.toFixed(0)} MiB, CPU: ${formatCpu(machineCpu, r.seconds)} (load ${load})`);
  return run;
}

async function compareCopies(ctx: Ctx, corpora: Corpus[], limits: Limits | undefined): Promise<void> {
  const out: Record<string, unknown> = {};
  for (const corpus of corpora) {
    log(`copy ${corpus.name}: ${corpus.objects} objects, ${(corpus.bytes / MiB).toFixed(0)} MiB, best of ${P.runs}, the tools alternating`);
    const runs: CopyRun[] = [];
    for (let round = 0; round < P.runs; round++) {
      const order: Array<"migrate" | "rclone"> = round % 2 === 0 ? ["migrate", "rclone"] : ["rclone", "migrate"];
      for (const tool of order) runs.push(await copyOnce(ctx, tool, corpus, round));
      // RGW frees deleted objects in its garbage collection: give it a moment between rounds of large data.
      if (corpus.largeBytes > 256 * MiB) await new Promise((r) => setTimeout(r, 5000));
    }
    if (P.cpuProfile) {
      const profDir = join(ROOT, "bench", "results", `prof-${corpus.name}-${Date.now()}`);
      mkdirSync(profDir, { recursive: true });
      await copyOnce(ctx, "migrate", corpus, 99, ["--cpu-prof", `--cpu-prof-dir=${profDir}`]);
      log(`  CPU profile of migrate run (${corpus.name}) in ${profDir}`);
    }
    const ours = best(runs.filter((r) => r.tool === "migrate"), (r) => r.seconds);
    const theirs = best(runs.filter((r) => r.tool === "rclone"), (r) => r.seconds);
    const lim = limits ? limitSeconds(corpus, limits) : NaN;
    const limBest = limits ? limitSeconds(corpus, limits, true) : NaN;
    const fr = (s: number) => lim / s;
    const frBest = (s: number) => limBest / s;
    const rate = (s: number) => (corpus.smallObjects > 0 && corpus.largeBytes === 0 ? `${(corpus.objects / s).toFixed(0)} objects/s` : mb(corpus.bytes / s));
    out[corpus.name] = { corpus, runs, best: { migrate: ours, rclone: theirs }, limitSeconds: lim, bestPatternLimitSeconds: limBest, fraction: { migrate: fr(ours.seconds), rclone: fr(theirs.seconds) }, fractionOfBestPatternLimit: { migrate: frBest(ours.seconds), rclone: frBest(theirs.seconds) } };
    const desc = `${corpus.name} (${corpus.objects} objects, ${(corpus.bytes / MiB).toFixed(0)} MiB)`;
    const goalFraction = corpus.name === "small" ? GOALS.smallFraction : GOALS.largeFraction;
    row({
      section: "copy",
      what: `${desc}: migrate run`,
      value: `${ours.seconds.toFixed(2)} s, ${rate(ours.seconds)}, ${limits ? pct(fr(ours.seconds)) : "?"} of limit${corpus.largeBytes > 0 && limits ? ` (${pct(frBest(ours.seconds))} with one-stream reads as the read limit)` : ""}, peak RSS ${ours.maxRssMiB.toFixed(0)} MiB, CPU ${ours.cpuSeconds.toFixed(1)} s`,
      ...(corpus.name === "mix" ? {} : { goal: `>= ${pct(goalFraction)} of limit${corpus.name === "large" ? ", not slower than rclone" : ""}`, met: fr(ours.seconds) >= goalFraction && (corpus.name !== "large" || ours.seconds <= theirs.seconds) }),
    });
    row({
      section: "copy",
      what: `${desc}: rclone`,
      value: `${theirs.seconds.toFixed(2)} s, ${rate(theirs.seconds)}, ${limits ? pct(fr(theirs.seconds)) : "?"} of limit${corpus.largeBytes > 0 && limits ? ` (${pct(frBest(theirs.seconds))} with one-stream reads as the read limit)` : ""}, peak RSS ${theirs.maxRssMiB.toFixed(0)} MiB, CPU ${theirs.cpuSeconds.toFixed(1)} s`,
    });
    row({ section: "copy", what: `${desc}: migrate speed / rclone speed`, value: `${(theirs.seconds / ours.seconds).toFixed(2)}x` });
  }
  results.copies = out;
}

/** Peak RSS of `migrate run` copying one large blob, default settings and MEMORY_BUDGET_MB=256. */
async function memory(ctx: Ctx): Promise<void> {
  const c = ctx.blob.getContainerClient(ctx.container);
  const t0 = Date.now();
  await uploadLargeBlob(c, "memory/big.bin", P.memoryBytes);
  log(`seeded a ${P.memoryBytes / MiB} MiB blob in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const out: Record<string, unknown> = {};
  for (const [label, extra] of [["default settings", {}], ["MEMORY_BUDGET_MB=256", { MEMORY_BUDGET_MB: "256" }]] as const) {
    const dest = `memory-${Date.now()}/`;
    const m = await runMigrate(`${ctx.container}/memory/`, `${ctx.bucket}/${dest}`, migrateEnv(ctx.endpoints, extra), ["--run-id", `bench-memory-${Date.now()}`]);
    if (m.code !== 0 || m.report.objects.copied !== 1) throw new Error(`memory copy (${label}) failed: exit ${m.code} ${JSON.stringify(m.report.failures)}`);
    await deletePrefix(ctx.s3, ctx.bucket, dest);
    out[label] = { seconds: m.seconds, maxRssMiB: m.maxRssMiB, cpuSeconds: m.userSeconds + m.sysSeconds };
    row({
      section: "memory",
      what: `migrate run, one ${P.memoryBytes / MiB} MiB blob, ${label}: peak RSS`,
      value: `${m.maxRssMiB.toFixed(0)} MiB (${m.seconds.toFixed(1)} s, ${mb(P.memoryBytes / m.seconds)})`,
      goal: `<= ${GOALS.rssMiB} MiB`,
      met: m.maxRssMiB <= GOALS.rssMiB,
    });
    await new Promise((r) => setTimeout(r, 5000));
  }
  await c.getBlockBlobClient("memory/big.bin").delete();
  results.memory = { blobBytes: P.memoryBytes, ...out };
}

/** Source and destination requests per object through counting proxies: a copy of small blobs, then a re-run over the unchanged data. */
async function requestCounts(ctx: Ctx): Promise<void> {
  const c = ctx.blob.getContainerClient(ctx.container);
  await uploadSmallBlobs(c, "requests/", P.requestBlobs, P.smallBytes);
  const az = await startCountProxy(`http://127.0.0.1:${new URL(ctx.azurite.endpoint).port}`);
  const s3p = await startCountProxy(ctx.rgw.endpoint);
  try {
    const endpoints: Endpoints = {
      ...ctx.endpoints,
      connectionString: ctx.azurite.connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=${az.endpoint}/${ctx.azurite.account}`),
      s3Endpoint: s3p.endpoint,
    };
    const out: Record<string, unknown> = {};
    const dest = `requests-${Date.now()}/`;
    for (const pass of ["first copy", "re-run over unchanged data"]) {
      az.reset();
      s3p.reset();
      const m = await runMigrate(`${ctx.container}/requests/`, `${ctx.bucket}/${dest}`, migrateEnv(endpoints), ["--run-id", `bench-req-${Date.now()}`]);
      if (m.code !== 0) throw new Error(`request count run (${pass}) failed: exit ${m.code} ${m.stderr.slice(-500)}`);
      const a: RequestCounts = classifyAzure(az.seen);
      const s: RequestCounts = classifyS3(s3p.seen, `/${ctx.stateBucket}`);
      const stateRequests = Object.entries(s.byKind).filter(([k]) => k.startsWith("state ") || k === "HEAD").reduce((x, [, n]) => x + n, 0);
      const n = P.requestBlobs;
      out[pass] = { objects: m.report.objects, azure: a, s3: s };
      const fmt = (r: RequestCounts) => Object.entries(r.byKind).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v}`).join(", ");
      row({ section: "requests", what: `${pass}, ${n} x ${P.smallBytes / 1024} KiB (copied ${m.report.objects.copied}, skipped ${m.report.objects.skipped}): Azure per object`, value: `${(a.total / n).toFixed(2)} (${fmt(a)})` });
      row({ section: "requests", what: `${pass}: S3 per object (data and run state)`, value: `${(s.total / n).toFixed(2)}, of which run state ${((stateRequests) / n).toFixed(2)} (${fmt(s)})` });
      if (pass !== "first copy") {
        row({ section: "requests", what: "re-run: object reads from Azure (GETs of blob data) / their body bytes", value: `${a.objectReads} / ${a.objectReadBytes} bytes`, goal: "0 bytes", met: a.objectReadBytes === 0 && a.objectReads === 0 });
      }
    }
    await deletePrefix(ctx.s3, ctx.bucket, dest);
    results.requests = out;
  } finally {
    await az.stop();
    await s3p.stop();
  }
}

/**
 * Time and peak RSS of planning (dry run) a container of many zero-byte blobs.
 * The blobs are listed by bench/list-server.ts (Azure's List Blobs pages):
 * Azurite can not take 100,000 blobs in reasonable time. BENCH_PLAN_SOURCE=azurite
 * seeds them in Azurite instead (only for small counts).
 */
async function planning(ctx: Ctx): Promise<void> {
  const container = `${ctx.container}-plan`;
  const inAzurite = process.env.BENCH_PLAN_SOURCE === "azurite";
  let endpoints = ctx.endpoints;
  let stopSource = async () => {};
  let requests = () => NaN;
  let unknown = (): string[] => [];
  const t0 = Date.now();
  if (inAzurite) {
    log(`seeding ${P.planBlobs} zero-byte blobs in Azurite, 64 uploads in flight...`);
    const c = ctx.blob.getContainerClient(container);
    await c.createIfNotExists();
    const progress = setInterval(() => log(`  seeding... ${((Date.now() - t0) / 1000).toFixed(0)} s`), 30_000);
    try {
      await putEmptyBlobs(`${ctx.azurite.endpoint}/${container}`, ctx.sas, "p/", P.planBlobs, 64);
    } finally {
      clearInterval(progress);
    }
    stopSource = async () => void (await c.delete().catch(() => undefined));
  } else {
    const server = await startListServer({ container, prefix: "p/", count: P.planBlobs });
    endpoints = { ...ctx.endpoints, connectionString: server.connectionString };
    stopSource = () => server.stop();
    requests = () => server.requests;
    unknown = () => server.unknown;
  }
  const seedSeconds = (Date.now() - t0) / 1000;
  try {
    if (inAzurite) row({ section: "planning", what: `seeding ${P.planBlobs} zero-byte blobs in Azurite (64 in flight)`, value: `${seedSeconds.toFixed(1)} s (${(P.planBlobs / seedSeconds).toFixed(0)} blobs/s)` });
    else row({ section: "planning", what: `source: ${P.planBlobs} zero-byte blobs listed by the benchmark's List Blobs server (Azurite takes ~15 min for 28,000)`, value: "no seeding" });
    const before = cpuSnapshot();
    const m = await runMigrate(container, `${ctx.bucket}/plan/`, migrateEnv(endpoints), ["--dry-run", "--run-id", `bench-plan-${Date.now()}`]);
    const cpu = cpuDiff(before);
    if (m.code !== 0 || m.report.objects.planned !== P.planBlobs) throw new Error(`dry run: exit ${m.code}, ${JSON.stringify(m.report?.objects)} ${m.stderr.slice(-500)}; unknown source requests: ${unknown().slice(0, 3).join(", ")}`);
    results.planning = { blobs: P.planBlobs, source: inAzurite ? "azurite" : "listing server", seedSeconds, seconds: m.seconds, maxRssMiB: m.maxRssMiB, cpuSeconds: m.userSeconds + m.sysSeconds, machineCpu: cpu, sourceRequests: requests(), unknownSourceRequests: unknown() };
    row({
      section: "planning",
      what: `migrate run --dry-run over ${P.planBlobs} blobs: time, peak RSS`,
      value: `${m.seconds.toFixed(1)} s (${(P.planBlobs / m.seconds).toFixed(0)} blobs/s), ${m.maxRssMiB.toFixed(0)} MiB, CPU ${(m.userSeconds + m.sysSeconds).toFixed(1)} s; others: ${formatCpu(cpu, m.seconds)}`,
      goal: `<= ${GOALS.planRssMiB} MiB`,
      met: m.maxRssMiB <= GOALS.planRssMiB,
    });
  } finally {
    await stopSource();
  }
}

// ---------------------------------------------------------------------------

function printTable(): string {
  const lines: string[] = [];
  let section = "";
  for (const r of rows) {
    if (r.section !== section) {
      section = r.section;
      lines.push(`\n== ${section}`);
    }
    const goal = r.goal ? `   [goal ${r.goal}: ${r.met ? "met" : "MISSED"}]` : "";
    lines.push(`  ${r.what}\n      ${r.value}${goal}`);
  }
  return lines.join("\n");
}

/** Runs one section; a failure is reported as a row and the benchmark goes on with the next. */
async function section<T>(name: string, body: () => Promise<T>): Promise<T | undefined> {
  try {
    return await body();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    row({ section: name, what: "FAILED", value: message.slice(0, 500) });
    ((results.errors ??= []) as unknown[]).push({ section: name, error: err instanceof Error ? err.stack : message });
    return undefined;
  }
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const startedAt = new Date();
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 1024 ** 3), node: process.version, loadAtStart: loadAverage() };
  results.machine = machine;
  results.parameters = { ...P, quick: QUICK, skip: [...SKIP] };
  let rcloneVersion = "";
  const rcloneVersionLine = () => execFileSync("rclone", ["version"], { encoding: "utf8" }).split("\n")[0]!;
  try {
    rcloneVersion = rcloneVersionLine();
  } catch {
    if (process.getuid?.() !== 0) throw new Error("rclone is not installed: apt-get install -y rclone (Debian 12 has 1.60.1), as root");
    log("rclone is missing: installing the Debian package (apt-get install -y rclone)");
    execFileSync("apt-get", ["update", "-qq"], { stdio: "ignore" });
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "rclone"], { stdio: "ignore", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    rcloneVersion = rcloneVersionLine();
  }
  log(`machine: ${machine.cpus} cores, ${machine.memGiB} GiB, node ${machine.node}, load ${machine.loadAtStart}; ${rcloneVersion}`);

  if (!SKIP.has("cold")) await section("cold start", coldStart);
  // The CLI starts from a bundle of its sources, cached and rebuilt when a source changes: build it now, not in the first measured run.
  const warm = await runTimed(process.execPath, [join(ROOT, "bin", "migrate.js"), "--help"], { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" }, { cwd: ROOT });
  const help = await runTimed(process.execPath, [join(ROOT, "bin", "migrate.js"), "--help"], { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" }, { cwd: ROOT });
  results.cliStart = { firstSeconds: warm.seconds, seconds: help.seconds, maxRssMiB: help.maxRssMiB };
  row({ section: "cold start", what: "migrate --help (CLI start, cached bundle)", value: `${(help.seconds * 1000).toFixed(0)} ms, ${help.maxRssMiB.toFixed(0)} MiB (first start after a source change: ${(warm.seconds * 1000).toFixed(0)} ms)` });

  const dir = mkdtempSync(join(tmpdir(), "bench-"));
  const started: Array<{ stop(): Promise<void> }> = [];
  const stopAll = async () => {
    killChildren();
    await Promise.allSettled(started.splice(0).reverse().map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = () => {
    log("interrupted: stopping servers and children...");
    void stopAll().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const needServers = ["limit", "copy", "memory", "requests", "planning"].some((s) => !SKIP.has(s));
    if (needServers) {
      log("starting Azurite and a fresh Ceph RGW...");
      process.env.RGW_MEMSTORE_BYTES ??= String(10 * 1024 ** 3);
      const azuritePort = await freePort();
      const cephDir = mkdtempSync(join(tmpdir(), "bench-ceph-"));
      markServers({ azuritePort, cephDir });
      const servers = await Promise.allSettled([startAzurite({ port: azuritePort }), startRgw({ dir: cephDir })]);
      for (const s of servers) if (s.status === "fulfilled") started.push(s.value);
      const failed = servers.find((s): s is PromiseRejectedResult => s.status === "rejected");
      if (failed) throw failed.reason;
      const azurite = (servers[0] as PromiseFulfilledResult<AzuriteServer>).value;
      const rgw = (servers[1] as PromiseFulfilledResult<S3Server>).value;
      const s3 = createS3Client({ endpoint: rgw.endpoint, region: rgw.region, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, forcePathStyle: true, maxSockets: 64 }, DEFAULT_RETRY_POLICY);
      const ctx: Ctx = {
        azurite,
        rgw,
        s3,
        blob: createBlobServiceClient({ kind: "connection-string", connectionString: azurite.connectionString }, DEFAULT_RETRY_POLICY),
        container: "bench-src",
        bucket: "bench-data",
        stateBucket: "bench-state",
        sas: accountSas(azurite),
        rcloneConf: "",
        dir,
        endpoints: { connectionString: azurite.connectionString, s3Endpoint: rgw.endpoint, rgw, stateBucket: "bench-state" },
      };
      await s3.send(new CreateBucketCommand({ Bucket: ctx.bucket }));
      await s3.send(new CreateBucketCommand({ Bucket: ctx.stateBucket }));
      const rc = writeRcloneConfig(dir, azurite, rgw);
      ctx.rcloneConf = rc.path;
      results.rclone = { version: rcloneVersion, flags: RCLONE_FLAGS, config: rc.text };

      let limits: Limits | undefined;
      if (!SKIP.has("limit") || !SKIP.has("copy")) {
        const corpora = await seedCorpora(ctx);
        if (!SKIP.has("limit")) limits = await section("limit", () => measureLimits(ctx));
        if (!SKIP.has("copy")) await section("copy", () => compareCopies(ctx, corpora, limits));
      }
      if (!SKIP.has("memory")) await section("memory", () => memory(ctx));
      if (!SKIP.has("requests")) await section("requests", () => requestCounts(ctx));
      if (!SKIP.has("planning")) await section("planning", () => planning(ctx));
      s3.destroy();
    }
  } finally {
    await stopAll();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }

  const seconds = (Date.now() - startedAt.getTime()) / 1000;
  (results.machine as Record<string, unknown>).loadAtEnd = loadAverage();
  results.benchSeconds = seconds;
  results.rows = rows;
  const table = printTable();
  const header =
    `benchmark ${startedAt.toISOString()}: ${machine.cpus} cores (${machine.cpuModel}), ${machine.memGiB} GiB, node ${machine.node}; ` +
    `load average at start ${machine.loadAtStart}, at end ${loadAverage()}; ${seconds.toFixed(0)} s in all` +
    (QUICK ? " (BENCH_QUICK: reduced sizes)" : "") +
    `\nrclone: ${rcloneVersion}, flags ${RCLONE_FLAGS.join(" ")}` +
    `\nrclone.conf:\n${String((results.rclone as { config?: string } | undefined)?.config ?? "(not used)").replace(/^/gm, "  ")}`;
  process.stdout.write(`${header}${table}\n`);
  const outDir = join(ROOT, "bench", "results");
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `bench-${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
  process.stdout.write(`\nfigures written to ${file}\n`);
}

main().catch((err) => {
  killChildren();
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
