import { MiB } from "../../shared/limits.ts";
import { cpuDiff, cpuSnapshot, formatCpu } from "../proc.ts";
import { putEmptyBlobs } from "../corpus.ts";
import { startListServer } from "../list-server.ts";
import { migrateEnv, runMigrate } from "../tools.ts";
import { P, GOALS } from "../params.ts";
import { log, results, row } from "../table.ts";
import { type Ctx } from "../context.ts";

/**
 * Time and peak RSS of planning (dry run) a container of many zero-byte blobs.
 * The blobs are listed by bench/list-server.ts (Azure's List Blobs pages):
 * Azurite can not take 100,000 blobs in reasonable time. BENCH_PLAN_SOURCE=azurite
 * seeds them in Azurite instead (only for small counts).
 */
export async function planning(ctx: Ctx): Promise<void> {
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
