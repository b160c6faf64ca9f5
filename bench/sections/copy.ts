/** The copy section: corpora seeded once, the servers' own limit, then migrate and rclone alternating. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_TUNING, MiB } from "../../shared/limits.ts";
import { cpuDiff, cpuSnapshot, formatCpu, loadAverage, type Timed } from "../proc.ts";
import { deletePrefix, listAll, uploadLargeBlob, uploadSmallBlobs } from "../corpus.ts";
import { rawRead, rawSmallGets, rawSmallPuts, rawWrite } from "../raw.ts";
import { migrateEnv, ROOT, runMigrate, runRclone } from "../tools.ts";
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

export interface CopyRun {
  tool: "migrate" | "rclone";
  round: number;
  seconds: number;
  maxRssMiB: number;
  cpuSeconds: number;
  machineCpu: Record<string, number>;
  load: string;
}

export async function verifyCopy(ctx: Ctx, prefix: string, corpus: Corpus): Promise<void> {
  const got = await listAll(ctx.s3, ctx.bucket, prefix);
  const bytes = got.reduce((a, o) => a + o.size, 0);
  if (got.length !== corpus.objects || bytes !== corpus.bytes) throw new Error(`copy to ${prefix}: ${got.length} objects / ${bytes} bytes, expected ${corpus.objects} / ${corpus.bytes}`);
}

export async function copyOnce(ctx: Ctx, tool: "migrate" | "rclone", corpus: Corpus, round: number, nodeFlags: string[] = []): Promise<CopyRun> {
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

export async function compareCopies(ctx: Ctx, corpora: Corpus[], limits: Limits | undefined): Promise<void> {
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
