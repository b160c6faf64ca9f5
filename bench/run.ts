/**
 * `npm run bench`: where we stand against rclone and against the servers'
 * own limit, on fresh local servers (Azurite -> Ceph RGW), in one run. Prints
 * a table and writes bench/results/bench-<timestamp>.json. Figures, never
 * assertions: nothing here is part of `npm test`.
 *
 * Sizes (defaults; BENCH_QUICK=1 shrinks everything for a smoke run):
 *   BENCH_RUNS=3              best of N per tool and corpus, the tools alternating
 *   BENCH_LARGE_COUNT=2 BENCH_LARGE_MB=256
 *   BENCH_SMALL_COUNT=2000 BENCH_SMALL_KB=16
 *   BENCH_MIX_LARGE_MB=256 BENCH_MIX_MEDIUM_COUNT=20 BENCH_MIX_SMALL_COUNT=1000
 *   BENCH_MEMORY_MB=2048      the blob of the memory measurement
 *   BENCH_PLAN_BLOBS=100000,1000000  zero-byte blobs of the planning measurements (listed by bench/list-server.ts;
 *                             BENCH_PLAN_SOURCE=azurite seeds them in Azurite, slow beyond ~10,000)
 *   BENCH_REQUEST_BLOBS=200   small blobs of the request count
 *   BENCH_SCALE_OBJECTS=100000,1000000  sizes of the scale model's runs (bench/sections/scale.ts: 10^4 -> 10^5
 *                             shards, about 8 minutes on 2 cores; 10000,100000 for a shorter run, whose
 *                             smaller size ends before the process's heap has settled)
 *   BENCH_SCALE_SHARD=10      objects a shard
 *   BENCH_RAW_ROUNDS=3        rounds of each raw measurement (after one warm-up)
 *   BENCH_SKIP=cold,limit,copy,memory,requests,wan,incremental,cost,planning,scale   sections to leave out
 *   BENCH_RCLONE_FLAGS="..."  rclone's flags instead of the tuned set
 *   BENCH_CPU_PROFILE=1       also run one copy of each corpus with node --cpu-prof (bench/results/prof-*)
 *   BENCH_WAN_MS=15           latency the wan section's proxies add to every answer
 *   BENCH_SKIP also takes wan, incremental (re-runs over unchanged data) and cost (per TB on Scaleway Functions)
 *   rclone also runs as a demanding user would (per corpus, RCLONE_DEMANDING in bench/tools.ts), alternating with the tuned set
 * Tuning variables of the CLI (PART_SIZE_MB, OBJECT_CONCURRENCY, ...) set here are passed on to `migrate run`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, cpus, totalmem } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { createS3Client } from "../shared/sdk-clients.ts";
import { createBlobServiceClient } from "../shared/azure-sdk-client.ts";
import { DEFAULT_RETRY_POLICY } from "../shared/retry.ts";
import { freePort, startAzurite, startRgw, type AzuriteServer, type S3Server } from "../shared/servers/launch.ts";
import { MiB } from "../shared/limits.ts";
import { killChildren, loadAverage, markServers, runTimed } from "./proc.ts";
import { accountSas, RCLONE_DEMANDING, RCLONE_FLAGS, ROOT, writeRcloneConfig } from "./tools.ts";
import { P, QUICK, SKIP } from "./params.ts";
import { log, rows, results, row, printTable, section } from "./table.ts";
import { type Ctx } from "./context.ts";
import { coldStart } from "./sections/cold-start.ts";
import { seedCorpora, type Limits, measureLimits, compareCopies } from "./sections/copy.ts";
import { wan } from "./sections/wan.ts";
import { incremental } from "./sections/incremental.ts";
import { costModel } from "./sections/cost.ts";
import { memory } from "./sections/memory.ts";
import { requestCounts } from "./sections/requests.ts";
import { planning } from "./sections/planning.ts";
import { scale } from "./sections/scale.ts";

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
    const needServers = ["limit", "copy", "memory", "requests", "planning", "scale", "wan", "incremental"].some((s) => !SKIP.has(s));
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
      results.rclone = { version: rcloneVersion, flags: RCLONE_FLAGS, demandingFlags: RCLONE_DEMANDING, config: rc.text };

      let limits: Limits | undefined;
      const corpora = ["limit", "copy", "wan", "incremental"].some((s) => !SKIP.has(s)) ? await seedCorpora(ctx) : [];
      if (!SKIP.has("limit")) limits = await section("limit", () => measureLimits(ctx));
      const copies = SKIP.has("copy") ? undefined : await section("copy", () => compareCopies(ctx, corpora, limits));
      if (!SKIP.has("memory")) await section("memory", () => memory(ctx));
      if (!SKIP.has("requests")) await section("requests", () => requestCounts(ctx));
      if (!SKIP.has("wan")) await section("wan", () => wan(ctx, corpora));
      const incr = SKIP.has("incremental") ? undefined : await section("incremental", () => incremental(ctx, corpora));
      if (!SKIP.has("cost")) await section("cost", () => costModel(copies, incr));
      if (!SKIP.has("planning")) await section("planning", () => planning(ctx));
      if (!SKIP.has("scale")) await section("scale", () => scale(ctx));
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
    `\nrclone: ${rcloneVersion}, tuned flags ${RCLONE_FLAGS.join(" ")}; as a demanding user: ${Object.entries(RCLONE_DEMANDING).map(([k, v]) => `${k} ${v.join(" ")}`).join("; ")}` +
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
