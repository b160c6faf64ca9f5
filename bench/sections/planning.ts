import { cpuDiff, cpuSnapshot, formatCpu } from "../proc.ts";
import { deletePrefix, putEmptyBlobs } from "../corpus.ts";
import { DEFAULT_STATE_PREFIX } from "../../shared/config.ts";
import { StateLayout } from "../../shared/state/layout.ts";
import { startListServer } from "../list-server.ts";
import { migrateEnv, runMigrate } from "../tools.ts";
import { P, GOALS } from "../params.ts";
import { log, results, row } from "../table.ts";
import { type Ctx } from "../context.ts";

/**
 * Time and peak RSS of planning (dry run) containers of many zero-byte blobs,
 * at each size of BENCH_PLAN_BLOBS (10^5 and 10^6 by default): the peak must
 * stay under the goal at every size and grow little from the first to the last.
 * The blobs are listed by bench/list-server.ts (Azure's List Blobs pages):
 * Azurite can not take 100,000 blobs in reasonable time. BENCH_PLAN_SOURCE=azurite
 * seeds them in Azurite instead (only for small counts). Each dry run's state
 * (manifests and ledger, some 600 MB at 10^6) is deleted after it.
 */
export async function planning(ctx: Ctx): Promise<void> {
  const measured: Array<{ blobs: number; maxRssMiB: number }> = [];
  const out: Record<string, unknown>[] = [];
  for (const blobs of P.planBlobs) {
    const r = await planOnce(ctx, blobs);
    measured.push({ blobs, maxRssMiB: r.maxRssMiB as number });
    out.push(r);
  }
  results.planning = out.length === 1 ? out[0] : out;
  if (measured.length > 1) {
    const first = measured[0]!;
    const last = measured[measured.length - 1]!;
    const growth = last.maxRssMiB / first.maxRssMiB - 1;
    row({
      section: "planning",
      what: `peak RSS from ${first.blobs} to ${last.blobs} blobs`,
      value: `${first.maxRssMiB.toFixed(0)} -> ${last.maxRssMiB.toFixed(0)} MiB (${growth >= 0 ? "+" : ""}${(growth * 100).toFixed(0)}%)`,
      goal: `<= +${(GOALS.planGrowth * 100).toFixed(0)}%`,
      met: growth <= GOALS.planGrowth,
    });
  }
}

async function planOnce(ctx: Ctx, blobs: number): Promise<Record<string, unknown>> {
  const container = `${ctx.container}-plan`;
  const inAzurite = process.env.BENCH_PLAN_SOURCE === "azurite";
  let endpoints = ctx.endpoints;
  let stopSource = async () => {};
  let requests = () => NaN;
  let unknown = (): string[] => [];
  const t0 = Date.now();
  if (inAzurite) {
    log(`seeding ${blobs} zero-byte blobs in Azurite, 64 uploads in flight...`);
    const c = ctx.blob.getContainerClient(container);
    await c.createIfNotExists();
    const progress = setInterval(() => log(`  seeding... ${((Date.now() - t0) / 1000).toFixed(0)} s`), 30_000);
    try {
      await putEmptyBlobs(`${ctx.azurite.endpoint}/${container}`, ctx.sas, "p/", blobs, 64);
    } finally {
      clearInterval(progress);
    }
    stopSource = async () => void (await c.delete().catch(() => undefined));
  } else {
    const server = await startListServer({ container, prefix: "p/", count: blobs });
    endpoints = { ...ctx.endpoints, connectionString: server.connectionString };
    stopSource = () => server.stop();
    requests = () => server.requests;
    unknown = () => server.unknown;
  }
  const seedSeconds = (Date.now() - t0) / 1000;
  const runId = `bench-plan-${blobs}-${Date.now()}`;
  try {
    if (inAzurite) row({ section: "planning", what: `seeding ${blobs} zero-byte blobs in Azurite (64 in flight)`, value: `${seedSeconds.toFixed(1)} s (${(blobs / seedSeconds).toFixed(0)} blobs/s)` });
    else row({ section: "planning", what: `source: ${blobs} zero-byte blobs listed by the benchmark's List Blobs server (Azurite takes ~15 min for 28,000)`, value: "no seeding" });
    const before = cpuSnapshot();
    const m = await runMigrate(container, `${ctx.bucket}/plan/`, migrateEnv(endpoints), ["--dry-run", "--run-id", runId]);
    const cpu = cpuDiff(before);
    if (m.code !== 0 || m.report.objects.planned !== blobs) throw new Error(`dry run: exit ${m.code}, ${JSON.stringify(m.report?.objects)} ${m.stderr.slice(-500)}; unknown source requests: ${unknown().slice(0, 3).join(", ")}`);
    const cpuSeconds = m.userSeconds + m.sysSeconds;
    row({
      section: "planning",
      what: `migrate run --dry-run over ${blobs} blobs: time, peak RSS`,
      value: `${m.seconds.toFixed(1)} s (${(blobs / m.seconds).toFixed(0)} blobs/s, ${(blobs / cpuSeconds).toFixed(0)} a CPU second), ${m.maxRssMiB.toFixed(0)} MiB, CPU ${cpuSeconds.toFixed(1)} s; others: ${formatCpu(cpu, m.seconds)}`,
      goal: `<= ${GOALS.planRssMiB} MiB`,
      met: m.maxRssMiB <= GOALS.planRssMiB,
    });
    return { blobs, source: inAzurite ? "azurite" : "listing server", seedSeconds, seconds: m.seconds, maxRssMiB: m.maxRssMiB, cpuSeconds, machineCpu: cpu, sourceRequests: requests(), unknownSourceRequests: unknown() };
  } finally {
    await stopSource();
    await deletePrefix(ctx.s3, ctx.stateBucket, new StateLayout(DEFAULT_STATE_PREFIX).run(runId).base);
  }
}
