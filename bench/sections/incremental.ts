/**
 * Incremental passes: each corpus copied once by each tool through counting
 * proxies (bench/count-proxy.ts), then copied again over the unchanged data
 * (migrate with a new run id, as a cutover's repeated passes; rclone copy
 * again, deciding from its own listings). Counts every request on each side
 * and times the re-runs, the tools alternating.
 */
import { MiB } from "../../shared/limits.ts";
import { deletePrefix } from "../corpus.ts";
import { classifyAzure, classifyS3, startCountProxy, type CountProxy, type RequestCounts } from "../count-proxy.ts";
import { migrateEnv, RCLONE_FLAGS, runMigrate, runRclone, writeRcloneConfig, type Endpoints } from "../tools.ts";
import { P, GOALS } from "../params.ts";
import { log, results, row } from "../table.ts";
import { type Ctx, type Corpus } from "../context.ts";

/** Requests of one pass, per object: Azure (all, and beyond the listing), S3 on the data bucket and on the state bucket. */
export interface PassCounts {
  seconds: number;
  copied?: number;
  skipped?: number;
  azure: RequestCounts;
  s3: RequestCounts;
  perObject: { azure: number; azureBeyondListing: number; s3Data: number; s3State: number };
}

export interface IncrementalFigures {
  corpus: Corpus;
  migrate: { first: PassCounts; rerun: PassCounts[] };
  rclone: { first: PassCounts; rerun: PassCounts[] };
}

/** "kind count, ..." of `r`, only the kinds `only` keeps. */
const kinds = (r: RequestCounts, only: (kind: string) => boolean = () => true) =>
  Object.entries(r.byKind)
    .filter(([k]) => only(k))
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(", ") || "none";

function counts(az: CountProxy, s3: CountProxy, stateBucket: string, objects: number, seconds: number): PassCounts {
  const a = classifyAzure(az.seen);
  const s = classifyS3(s3.seen, `/${stateBucket}`);
  const state = Object.entries(s.byKind).filter(([k]) => k.startsWith("state ")).reduce((x, [, n]) => x + n, 0);
  return {
    seconds,
    azure: a,
    s3: s,
    perObject: { azure: a.total / objects, azureBeyondListing: (a.total - (a.byKind.list ?? 0)) / objects, s3Data: (s.total - state) / objects, s3State: state / objects },
  };
}

export async function incremental(ctx: Ctx, corpora: Corpus[]): Promise<IncrementalFigures[]> {
  const az = await startCountProxy(`http://127.0.0.1:${new URL(ctx.azurite.endpoint).port}`);
  const s3p = await startCountProxy(ctx.rgw.endpoint);
  const figures: IncrementalFigures[] = [];
  try {
    const azureEndpoint = `${az.endpoint}${new URL(ctx.azurite.endpoint).pathname}`;
    const endpoints: Endpoints = { ...ctx.endpoints, connectionString: ctx.azurite.connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=${azureEndpoint}`), s3Endpoint: s3p.endpoint };
    const rcloneConf = writeRcloneConfig(ctx.dir, ctx.azurite, ctx.rgw, { azure: azureEndpoint, s3: s3p.endpoint, name: "rclone-count.conf" }).path;
    for (const corpus of corpora) {
      const n = corpus.objects;
      const from = `${ctx.container}/${corpus.prefix}`;
      const dest = { migrate: `incr-migrate-${corpus.name}/`, rclone: `incr-rclone-${corpus.name}/` };
      log(`incremental ${corpus.name}: ${n} objects, ${(corpus.bytes / MiB).toFixed(0)} MiB: one copy by each tool, then ${P.runs} re-run(s) each over the unchanged data`);
      const migratePass = async (label: string): Promise<PassCounts> => {
        az.reset();
        s3p.reset();
        const m = await runMigrate(from, `${ctx.bucket}/${dest.migrate}`, migrateEnv(endpoints), ["--run-id", `bench-incr-${corpus.name}-${label}-${Date.now()}`]);
        if (m.code !== 0) throw new Error(`migrate ${label} of ${corpus.name} failed: exit ${m.code} ${JSON.stringify(m.report.failures.slice(0, 3))}`);
        return { ...counts(az, s3p, ctx.stateBucket, n, m.seconds), copied: m.report.objects.copied, skipped: m.report.objects.skipped };
      };
      const rclonePass = async (): Promise<PassCounts> => {
        az.reset();
        s3p.reset();
        const r = await runRclone(rcloneConf, from, `${ctx.bucket}/${dest.rclone}`, RCLONE_FLAGS);
        return counts(az, s3p, ctx.stateBucket, n, r.seconds);
      };
      const f: IncrementalFigures = { corpus, migrate: { first: await migratePass("first"), rerun: [] }, rclone: { first: await rclonePass(), rerun: [] } };
      for (let round = 0; round < P.runs; round++) {
        if (round % 2 === 0) {
          f.migrate.rerun.push(await migratePass(`rerun${round}`));
          f.rclone.rerun.push(await rclonePass());
        } else {
          f.rclone.rerun.push(await rclonePass());
          f.migrate.rerun.push(await migratePass(`rerun${round}`));
        }
      }
      await deletePrefix(ctx.s3, ctx.bucket, dest.migrate);
      await deletePrefix(ctx.s3, ctx.bucket, dest.rclone);
      figures.push(f);
      report(f);
    }
    results.incremental = figures;
    return figures;
  } finally {
    await az.stop();
    await s3p.stop();
  }
}

function report(f: IncrementalFigures): void {
  const c = f.corpus;
  const desc = `${c.name} (${c.objects} objects, ${(c.bytes / MiB).toFixed(0)} MiB)`;
  const po = (p: PassCounts) => `Azure ${p.perObject.azure.toFixed(3)}, S3 ${p.perObject.s3Data.toFixed(3)} on the data bucket + ${p.perObject.s3State.toFixed(3)} on run state`;
  row({ section: "incremental", what: `${desc}, first copy: requests per object, migrate`, value: `${po(f.migrate.first)} (Azure: ${kinds(f.migrate.first.azure)}; S3: ${kinds(f.migrate.first.s3)})` });
  row({ section: "incremental", what: `${desc}, first copy: requests per object, rclone tuned`, value: `${po(f.rclone.first)} (Azure: ${kinds(f.rclone.first.azure)}; S3: ${kinds(f.rclone.first.s3)})` });
  const m = f.migrate.rerun[0]!;
  const r = f.rclone.rerun[0]!;
  const copiedNote = m.copied ? `; the re-run copied ${m.copied} object(s) again` : `; skipped ${m.skipped ?? "?"}, copied 0`;
  row({
    section: "incremental",
    what: `${c.name} re-run over unchanged data: migrate's destination requests per object (data bucket; run state apart)`,
    value: `${m.perObject.s3Data.toFixed(4)} (${kinds(m.s3, (k) => !k.startsWith("state "))}); run state ${m.perObject.s3State.toFixed(4)} per object (${kinds(m.s3, (k) => k.startsWith("state "))})${copiedNote}`,
    goal: `<= ${GOALS.incrementalDestPerObject}`,
    met: m.perObject.s3Data <= GOALS.incrementalDestPerObject && !m.copied,
  });
  // What scales with the objects: requests addressed to one data key (a HEAD, a read, a write, its parts),
  // apart from the run's fixed ones (bucket checks, range listings, the end-of-run sweep of open uploads).
  const PER_RUN = new Set(["List", "ListMultipartUploads", "HeadBucket"]);
  const keyed = Object.entries(m.s3.byKind).filter(([k]) => !k.startsWith("state ") && !PER_RUN.has(k)).reduce((x, [, n]) => x + n, 0);
  row({
    section: "incremental",
    what: `${c.name} re-run: migrate's requests addressed to a data key, per object (the rest are the run's own, whatever its size)`,
    value: `${(keyed / c.objects).toFixed(4)} (${keyed} for ${c.objects} objects; per run: ${kinds(m.s3, (k) => PER_RUN.has(k))})`,
  });
  const beyond = m.azure.total - (m.azure.byKind.list ?? 0);
  row({
    section: "incremental",
    what: `${c.name} re-run: migrate's source requests beyond the listing`,
    value: `${beyond} (${m.azure.objectReads} object reads, ${m.azure.objectReadBytes} bytes; Azure: ${kinds(m.azure)})`,
    goal: "0",
    met: beyond === 0,
  });
  const best = (ps: PassCounts[]) => Math.min(...ps.map((p) => p.seconds));
  const ms = best(f.migrate.rerun);
  const rs = best(f.rclone.rerun);
  row({
    section: "incremental",
    what: `${c.name} re-run wall time (whole process, best of ${f.migrate.rerun.length}): migrate / rclone copy (${RCLONE_FLAGS.includes("--fast-list") ? "--fast-list, " : ""}tuned flags)`,
    value: `${ms.toFixed(2)} s / ${rs.toFixed(2)} s = ${(rs / ms).toFixed(2)}x rclone's speed; rclone's re-run requests per object: ${po(r)} (S3: ${kinds(r.s3)})`,
  });
}
