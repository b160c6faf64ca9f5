/** The copy section: corpora seeded once, the servers' own limit, then migrate and rclone alternating. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { availableParallelism } from "node:os";
import { DEFAULT_TUNING, GiB, MiB } from "../../shared/limits.ts";
import { cpuDiff, cpuSnapshot, formatCpu, loadAverage, SERVER_ROLES, type Timed } from "../proc.ts";
import { deletePrefix, listAll, uploadLargeBlob, uploadSmallBlobs } from "../corpus.ts";
import { rawRead, rawSmallGets, rawSmallPuts, rawWrite } from "../raw.ts";
import { migrateEnv, RCLONE_DEMANDING, RCLONE_FLAGS, ROOT, runMigrate, runRclone } from "../tools.ts";
import { P, GOALS } from "../params.ts";
import { log, mb, pct, results, row, best } from "../table.ts";
import { type Ctx, type Corpus } from "../context.ts";

export async function seedCorpora(ctx: Ctx): Promise<Corpus[]> {
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

export interface Limits {
  readBps: number;
  /** One whole-blob GET per blob: Azurite serves this pattern far faster than parallel ranges. */
  streamReadBps: number;
  writeBps: number;
  getsPerSecond: number;
  putsPerSecond: number;
  concurrency: number;
}

/** Raw throughput of the servers, best of a few rounds after a warm-up round. */
export async function measureLimits(ctx: Ctx): Promise<Limits> {
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
export function limitSeconds(c: Corpus, l: Limits, bestRead = false): number {
  const read = bestRead ? Math.max(l.readBps, l.streamReadBps) : l.readBps;
  return c.largeBytes / Math.min(read, l.writeBps) + c.smallObjects / Math.min(l.getsPerSecond, l.putsPerSecond);
}

/** migrate, and rclone in two configurations: as a demanding user runs it (per corpus, issue 17) and tuned for these servers (RCLONE_FLAGS). */
export type Tool = "migrate" | "rclone-demanding" | "rclone-tuned";
export const TOOLS: Tool[] = ["migrate", "rclone-demanding", "rclone-tuned"];

export function rcloneFlags(tool: Tool, corpus: Corpus): string[] {
  return tool === "rclone-tuned" ? RCLONE_FLAGS : RCLONE_DEMANDING[corpus.name as keyof typeof RCLONE_DEMANDING] ?? RCLONE_DEMANDING.mix;
}

export interface CopyRun {
  tool: Tool;
  round: number;
  seconds: number;
  maxRssMiB: number;
  cpuSeconds: number;
  /** migrate only: the seconds its report times (the copy), the rest of `seconds` being start-up, planning, state and exit. */
  reportSeconds?: number;
  machineCpu: Record<string, number>;
  load: string;
}

export async function verifyCopy(ctx: Ctx, prefix: string, corpus: Corpus): Promise<void> {
  const got = await listAll(ctx.s3, ctx.bucket, prefix);
  const bytes = got.reduce((a, o) => a + o.size, 0);
  if (got.length !== corpus.objects || bytes !== corpus.bytes) throw new Error(`copy to ${prefix}: ${got.length} objects / ${bytes} bytes, expected ${corpus.objects} / ${corpus.bytes}`);
}

/** One copy of `corpus` into an emptied destination, verified by listing; `flags` replaces rclone's flags for this corpus. */
export async function copyOnce(ctx: Ctx, tool: Tool, corpus: Corpus, round: number, nodeFlags: string[] = [], flags?: string[]): Promise<CopyRun> {
  const dest = `${tool}-${corpus.name}-${round}/`;
  const load = loadAverage();
  const before = cpuSnapshot();
  let r: Timed;
  let reportSeconds: number | undefined;
  if (tool === "migrate") {
    const m = await runMigrate(`${ctx.container}/${corpus.prefix}`, `${ctx.bucket}/${dest}`, migrateEnv(ctx.endpoints), ["--run-id", `bench-${corpus.name}-${round}-${Date.now()}`], nodeFlags);
    if (m.code !== 0 || m.report.objects.copied !== corpus.objects) throw new Error(`migrate run of ${corpus.name}: exit ${m.code}, ${JSON.stringify(m.report.objects)} ${JSON.stringify(m.report.failures.slice(0, 3))}`);
    r = m;
    reportSeconds = m.report.durationSeconds;
  } else {
    r = await runRclone(ctx.rcloneConf, `${ctx.container}/${corpus.prefix}`, `${ctx.bucket}/${dest}`, flags ?? rcloneFlags(tool, corpus));
  }
  const machineCpu = cpuDiff(before);
  const own = tool === "migrate" ? "migrate" : "rclone";
  machineCpu[own] = (machineCpu[own] ?? 0) + r.userSeconds + r.sysSeconds;
  await verifyCopy(ctx, dest, corpus);
  await deletePrefix(ctx.s3, ctx.bucket, dest);
  const run: CopyRun = { tool, round, seconds: r.seconds, maxRssMiB: r.maxRssMiB, cpuSeconds: r.userSeconds + r.sysSeconds, reportSeconds, machineCpu, load };
  log(`  ${corpus.name} ${tool} #${round + 1}: ${r.seconds.toFixed(2)} s, RSS ${r.maxRssMiB.toFixed(0)} MiB, CPU: ${formatCpu(machineCpu, r.seconds)} (load ${load})`);
  return run;
}

/** Per corpus, what the cost model needs: the best migrate run's time, the least CPU and the highest peak RSS of its runs. */
export interface CopyFigures {
  corpus: Corpus;
  migrate: { seconds: number; cpuSeconds: number; maxRssMiB: number };
  rclone: Record<"rclone-demanding" | "rclone-tuned", { seconds: number; cpuSeconds: number; maxRssMiB: number }>;
}

/** Best time, least CPU, highest peak RSS over a tool's runs. */
export function summary(runs: CopyRun[]): { seconds: number; cpuSeconds: number; maxRssMiB: number; reportSeconds?: number } {
  const fastest = best(runs, (r) => r.seconds);
  return { seconds: fastest.seconds, cpuSeconds: Math.min(...runs.map((r) => r.cpuSeconds)), maxRssMiB: Math.max(...runs.map((r) => r.maxRssMiB)), reportSeconds: fastest.reportSeconds };
}

export async function compareCopies(ctx: Ctx, corpora: Corpus[], limits: Limits | undefined): Promise<CopyFigures[]> {
  const out: Record<string, unknown> = {};
  const figures: CopyFigures[] = [];
  for (const corpus of corpora) {
    log(`copy ${corpus.name}: ${corpus.objects} objects, ${(corpus.bytes / MiB).toFixed(0)} MiB, best of ${P.runs}, migrate and rclone in two configurations alternating`);
    const runs: CopyRun[] = [];
    for (let round = 0; round < P.runs; round++) {
      // Each round starts with the next tool: over three rounds each tool runs once first, once second, once last.
      const order = TOOLS.map((_, i) => TOOLS[(i + round) % TOOLS.length]!);
      for (const tool of order) {
        runs.push(await copyOnce(ctx, tool, corpus, round));
        // RGW frees deleted objects in its garbage collection: give it a moment between copies of large data.
        if (corpus.largeBytes > 256 * MiB) await new Promise((r) => setTimeout(r, 3000));
      }
    }
    if (P.cpuProfile) {
      const profDir = join(ROOT, "bench", "results", `prof-${corpus.name}-${Date.now()}`);
      mkdirSync(profDir, { recursive: true });
      await copyOnce(ctx, "migrate", corpus, 99, ["--cpu-prof", `--cpu-prof-dir=${profDir}`]);
      log(`  CPU profile of migrate run (${corpus.name}) in ${profDir}`);
    }
    const ours = summary(runs.filter((r) => r.tool === "migrate"));
    const demanding = summary(runs.filter((r) => r.tool === "rclone-demanding"));
    const tuned = summary(runs.filter((r) => r.tool === "rclone-tuned"));
    const lim = limits ? limitSeconds(corpus, limits) : NaN;
    const limBest = limits ? limitSeconds(corpus, limits, true) : NaN;
    const fr = (s: number) => lim / s;
    const frBest = (s: number) => limBest / s;
    const rate = (s: number) => (corpus.smallObjects > 0 && corpus.largeBytes === 0 ? `${(corpus.objects / s).toFixed(0)} objects/s` : mb(corpus.bytes / s));
    const desc = `${corpus.name} (${corpus.objects} objects, ${(corpus.bytes / MiB).toFixed(0)} MiB)`;
    const goalFraction = corpus.name === "small" ? GOALS.smallFraction : GOALS.largeFraction;
    const outside = ours.reportSeconds === undefined ? "" : `, of which ${(ours.seconds - ours.reportSeconds).toFixed(1)} s outside the copy its report times (start-up, planning, state, exit)`;
    row({
      section: "copy",
      what: `${desc}: migrate run (whole process, best of ${runs.filter((r) => r.tool === "migrate").length})`,
      value: `${ours.seconds.toFixed(2)} s${outside}, ${rate(ours.seconds)}, ${limits ? pct(fr(ours.seconds)) : "?"} of limit${corpus.largeBytes > 0 && limits ? ` (${pct(frBest(ours.seconds))} with one-stream reads as the read limit)` : ""}, peak RSS ${ours.maxRssMiB.toFixed(0)} MiB, CPU ${ours.cpuSeconds.toFixed(1)} s`,
      ...(corpus.name === "mix" || !limits ? {} : { goal: `>= ${pct(goalFraction)} of limit`, met: fr(ours.seconds) >= goalFraction }),
    });
    for (const [tool, t] of [["rclone-demanding", demanding], ["rclone-tuned", tuned]] as const) {
      row({
        section: "copy",
        what: `${desc}: rclone ${tool === "rclone-tuned" ? "tuned" : "as a demanding user"} (${rcloneFlags(tool, corpus).join(" ")})`,
        value: `${t.seconds.toFixed(2)} s, ${rate(t.seconds)}, ${limits ? pct(fr(t.seconds)) : "?"} of limit, peak RSS ${t.maxRssMiB.toFixed(0)} MiB, CPU ${t.cpuSeconds.toFixed(1)} s`,
      });
    }
    const speedGoal = GOALS.speedVsRclone[corpus.name] ?? 1;
    for (const [label, t] of [["as a demanding user", demanding], ["tuned", tuned]] as const) {
      const x = t.seconds / ours.seconds;
      row({ section: "copy", what: `${corpus.name}: speed against rclone ${label} (rclone seconds / migrate seconds, whole processes)`, value: `${x.toFixed(2)}x`, goal: `>= ${speedGoal.toFixed(1)}x`, met: x >= speedGoal });
    }
    cpuRows(corpus, ours, demanding, tuned);
    machineCpuRow("copy", corpus, runs);
    row({ section: "copy", what: `${corpus.name}: migrate peak RSS (highest of its runs, default settings)`, value: `${ours.maxRssMiB.toFixed(0)} MiB`, goal: `<= ${GOALS.rssMiB} MiB`, met: ours.maxRssMiB <= GOALS.rssMiB });
    out[corpus.name] = { corpus, runs, summary: { migrate: ours, "rclone-demanding": demanding, "rclone-tuned": tuned }, rcloneFlags: { demanding: rcloneFlags("rclone-demanding", corpus), tuned: RCLONE_FLAGS }, limitSeconds: lim, bestPatternLimitSeconds: limBest };
    figures.push({ corpus, migrate: ours, rclone: { "rclone-demanding": demanding, "rclone-tuned": tuned } });
  }
  results.copies = out;
  return figures;
}

const TOOL_LABEL: Record<Tool, string> = { migrate: "migrate", "rclone-demanding": "rclone demanding", "rclone-tuned": "rclone tuned" };

/**
 * The whole machine's CPU during each tool's fastest run (servers, the tool, the benchmark's own
 * process with its proxies), per object: on a machine whose cores the servers share with the tools,
 * a run can not end sooner than that CPU spread over every core, and the ratio of two tools' machine
 * CPU bounds the speed ratio any client change can reach while the cores are saturated.
 */
export function machineCpuRow(section: string, corpus: Corpus, runs: CopyRun[], labels: Partial<Record<Tool, string>> = {}): void {
  const label = (t: Tool) => labels[t] ?? TOOL_LABEL[t];
  const serverUnit = (cpu: number) =>
    corpus.largeBytes === 0 ? `${((1000 * cpu) / corpus.objects).toFixed(2)} ms of server CPU an object` : `${(cpu / (corpus.bytes / GiB)).toFixed(1)} CPU-s of servers a GiB`;
  const cores = availableParallelism();
  const figures: string[] = [];
  const total: Partial<Record<Tool, number>> = {};
  for (const tool of TOOLS) {
    const mine = runs.filter((r) => r.tool === tool);
    if (mine.length === 0) continue;
    const fastest = best(mine, (r) => r.seconds);
    const all = Object.values(fastest.machineCpu).reduce((a, b) => a + b, 0);
    const servers = SERVER_ROLES.reduce((a, k) => a + (fastest.machineCpu[k] ?? 0), 0);
    total[tool] = all;
    figures.push(`${label(tool)} ${all.toFixed(1)} CPU-s in ${fastest.seconds.toFixed(2)} s (servers ${servers.toFixed(1)}, the tool ${fastest.cpuSeconds.toFixed(1)}; ${serverUnit(servers)}), at least ${(all / cores).toFixed(2)} s on ${cores} cores`);
  }
  const ceilings = (["rclone-demanding", "rclone-tuned"] as const).filter((t) => total[t] && total.migrate).map((t) => `${(total[t]! / total.migrate!).toFixed(2)}x against ${label(t)}`);
  row({ section, what: `${corpus.name}: the machine's CPU during each tool's fastest run; the ratio of the machine's CPU (the speed ratio's bound while the cores are saturated)`, value: `${figures.join("; ")}; ${ceilings.join(", ")}` });
}

/**
 * CPU seconds of the migrate process against rclone's (least of each tool's runs): per GiB for the
 * large corpus, per 1,000 objects for the small one (goal <= 0.8x), both as figures for the mix.
 */
function cpuRows(corpus: Corpus, ours: { cpuSeconds: number }, demanding: { cpuSeconds: number }, tuned: { cpuSeconds: number }): void {
  const perGiB = (cpu: number) => cpu / (corpus.bytes / GiB);
  const per1000 = (cpu: number) => (1000 * cpu) / corpus.objects;
  if (corpus.name === "mix") {
    row({
      section: "copy",
      what: "mix: CPU seconds per GiB / per 1,000 objects, migrate | rclone demanding | rclone tuned",
      value: [ours, demanding, tuned].map((t) => `${perGiB(t.cpuSeconds).toFixed(2)} / ${per1000(t.cpuSeconds).toFixed(2)}`).join(" | ") + `; migrate / rclone ${(ours.cpuSeconds / demanding.cpuSeconds).toFixed(2)}x | ${(ours.cpuSeconds / tuned.cpuSeconds).toFixed(2)}x`,
    });
    return;
  }
  const [unit, f] = corpus.name === "small" ? ["per 1,000 objects", per1000] : ["per GiB", perGiB];
  for (const [label, t] of [["as a demanding user", demanding], ["tuned", tuned]] as const) {
    const x = ours.cpuSeconds / t.cpuSeconds;
    row({
      section: "copy",
      what: `${corpus.name}: CPU seconds ${unit} of the process, migrate / rclone ${label}`,
      value: `${f(ours.cpuSeconds).toFixed(2)} s / ${f(t.cpuSeconds).toFixed(2)} s = ${x.toFixed(2)}x`,
      goal: `<= ${GOALS.cpuVsRclone}x`,
      met: x <= GOALS.cpuVsRclone,
    });
  }
}
