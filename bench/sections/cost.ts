/**
 * The cost model: per corpus, from the copy section's migrate figures (least
 * CPU of its runs, best wall time, highest peak RSS) the memory tier a worker
 * needs and the estimated cost per TB on Scaleway Functions (bench/cost-model.ts),
 * and from the incremental section's first copies the requests per object on
 * each side, migrate and rclone.
 */
import { DEFAULT_TUNING, GiB } from "../../shared/limits.ts";
import { estimate, PRICES, type CostEstimate } from "../cost-model.ts";
import { results, row } from "../table.ts";
import { type CopyFigures } from "./copy.ts";
import { type IncrementalFigures, type PassCounts } from "./incremental.ts";

/** The worker's memory as deployed by default (serverless.yml workerMemoryMb). */
const DEPLOYED_WORKER_MB = 1024;

const eur = (x: number) => (Number.isFinite(x) ? `EUR ${x < 0.01 ? x.toPrecision(2) : x < 1 ? x.toFixed(3) : x.toFixed(2)}` : "n/a");

export async function costModel(copies: CopyFigures[] | undefined, incr: IncrementalFigures[] | undefined): Promise<void> {
  const out: Record<string, unknown> = { prices: PRICES };
  if (!copies?.length) row({ section: "cost", what: "cost per TB", value: "not estimated: the copy section did not run" });
  for (const f of copies ?? []) {
    const c = f.corpus;
    const base = { bytes: c.bytes, objects: c.objects, shardMaxObjects: DEFAULT_TUNING.shardMaxObjects, shardMaxBytes: DEFAULT_TUNING.shardMaxBytes };
    const ours = estimate({ ...base, cpuSeconds: f.migrate.cpuSeconds, seconds: f.migrate.seconds, peakRssMiB: f.migrate.maxRssMiB });
    // The wall time here is that of 2 cores shared by both servers and the tool: the estimate with CPU alone is the lower bound.
    const cpuOnly = estimate({ ...base, cpuSeconds: f.migrate.cpuSeconds, seconds: 0, peakRssMiB: f.migrate.maxRssMiB });
    const deployed = estimate({ ...base, cpuSeconds: f.migrate.cpuSeconds, seconds: f.migrate.seconds, peakRssMiB: f.migrate.maxRssMiB, tierMb: DEPLOYED_WORKER_MB });
    const rc = f.rclone["rclone-demanding"];
    const theirs = estimate({ ...base, cpuSeconds: rc.cpuSeconds, seconds: rc.seconds, peakRssMiB: rc.maxRssMiB });
    const per1000 = (x: number) => (1000 * x) / c.objects;
    const tier = (e: CostEstimate) => (e.tier ? `${e.tier.mb} MB tier (${e.tier.vcpu} vCPU)` : "no tier up to 2048 MB");
    row({
      section: "cost",
      what: `${c.name}: migrate CPU and wall time per GiB${c.smallObjects > 0 ? " / per 1,000 objects" : ""}, peak RSS -> memory tier`,
      value:
        `CPU ${ours.cpuSecondsPerGiB.toFixed(1)} s/GiB, wall ${ours.wallSecondsPerGiB.toFixed(1)} s/GiB` +
        (c.smallObjects > 0 ? ` (CPU ${per1000(f.migrate.cpuSeconds).toFixed(2)} s, wall ${per1000(f.migrate.seconds).toFixed(2)} s per 1,000 objects)` : "") +
        `, peak RSS ${f.migrate.maxRssMiB.toFixed(0)} MiB -> ${tier(ours)}`,
    });
    row({
      section: "cost",
      what: `${c.name}: estimated cost per TB on Scaleway Functions, migrate`,
      value:
        `${eur(ours.eurPerTB)} on the ${tier(ours)}: ${ours.functionSecondsPerGiB.toFixed(1)} s per GiB (${ours.cpuBound ? "CPU-bound: CPU seconds / vCPU" : "the wall time measured here"}), ` +
        `${(ours.gbSecondsPerTB / 1000).toFixed(1)}k GB-s per TB = ${eur(ours.eurComputePerTB)}, ${(ours.invocationsPerTB / 1000).toFixed(1)}k invocations = ${eur(ours.eurRequestsPerTB)}; ` +
        `${ours.cpuBound ? "" : `CPU-bound alone (CPU seconds / vCPU): ${eur(cpuOnly.eurPerTB)}; `}` +
        `as deployed (${DEPLOYED_WORKER_MB} MB): ${eur(deployed.eurPerTB)}; rclone's CPU (as a demanding user) on its own tier, for comparison: ${eur(theirs.eurPerTB)} (${tier(theirs)})`,
    });
    const counts = incr?.find((i) => i.corpus.name === c.name);
    const po = (p: PassCounts) => `Azure ${p.perObject.azure.toFixed(2)}, S3 ${(p.perObject.s3Data + p.perObject.s3State).toFixed(2)} (${p.perObject.s3State.toFixed(2)} of them run state)`;
    row({
      section: "cost",
      what: `${c.name}: requests per object, first copy (incremental section's counts)`,
      value: counts ? `migrate ${po(counts.migrate.first)}; rclone tuned ${po(counts.rclone.first)}` : "not counted: the incremental section did not run",
    });
    out[c.name] = { corpus: c, migrate: ours, migrateCpuBound: cpuOnly, migrateAsDeployed: deployed, rcloneDemanding: theirs, requestsPerObject: counts ? { migrate: counts.migrate.first.perObject, rclone: counts.rclone.first.perObject } : undefined };
  }
  row({ section: "cost", what: "prices", value: `EUR ${PRICES.eurPerGbSecond * 100_000} per 100,000 GB-s, EUR ${PRICES.eurPerRequest * 1e6} per million requests, from ${PRICES.source}; free allowances left out; 1 TB = 10^12 bytes (${(1e12 / GiB).toFixed(0)} GiB) of the corpus's shape` });
  results.cost = out;
}
