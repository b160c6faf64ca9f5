import { MiB } from "../../shared/limits.ts";
import { deletePrefix, uploadLargeBlob } from "../corpus.ts";
import { migrateEnv, runMigrate } from "../tools.ts";
import { P, GOALS } from "../params.ts";
import { log, mb, results, row } from "../table.ts";
import { type Ctx } from "../context.ts";

/** Peak RSS of `migrate run` copying one large blob, default settings and MEMORY_BUDGET_MB=256. */
export async function memory(ctx: Ctx): Promise<void> {
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
