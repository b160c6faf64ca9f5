/** Sizes and sections of `npm run bench`, from BENCH_* variables (see bench/run.ts), and the goals measured against. */
import { MiB } from "../shared/limits.ts";

export const QUICK = /^(1|true|yes)$/i.test(process.env.BENCH_QUICK ?? "");
export function num(name: string, full: number, quick: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return QUICK ? quick : full;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number >= 0 (got "${raw}")`);
  return n;
}

function list(name: string, full: number[], quick: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return QUICK ? quick : full;
  const ns = raw.split(",").map((s) => Number(s.trim()));
  if (ns.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`${name} must be whole numbers >= 1 separated by commas (got "${raw}")`);
  return ns;
}

export const P = {
  runs: num("BENCH_RUNS", 3, 1),
  largeCount: num("BENCH_LARGE_COUNT", 2, 2),
  largeBytes: num("BENCH_LARGE_MB", 256, 64) * MiB,
  smallCount: num("BENCH_SMALL_COUNT", 2000, 500),
  smallBytes: num("BENCH_SMALL_KB", 16, 16) * 1024,
  mixLargeBytes: num("BENCH_MIX_LARGE_MB", 256, 32) * MiB,
  mixMediumCount: num("BENCH_MIX_MEDIUM_COUNT", 20, 5),
  mixMediumBytes: 4 * MiB,
  mixSmallCount: num("BENCH_MIX_SMALL_COUNT", 1000, 100),
  memoryBytes: num("BENCH_MEMORY_MB", 2048, 256) * MiB,
  planBlobs: list("BENCH_PLAN_BLOBS", [100_000, 1_000_000], [5000, 50_000]),
  requestBlobs: num("BENCH_REQUEST_BLOBS", 200, 50),
  scaleObjects: list("BENCH_SCALE_OBJECTS", [100_000, 1_000_000], [2_000, 20_000]),
  scaleShard: num("BENCH_SCALE_SHARD", 10, 10),
  rawRounds: num("BENCH_RAW_ROUNDS", 3, 1),
  smallInFlight: 32,
  cpuProfile: /^(1|true)$/i.test(process.env.BENCH_CPU_PROFILE ?? ""),
  wanMs: num("BENCH_WAN_MS", 15, 15),
};
export const SKIP = new Set((process.env.BENCH_SKIP ?? "").split(",").map((s) => s.trim()).filter(Boolean));

export const GOALS = {
  largeFraction: 0.9,
  smallFraction: 0.9,
  rssMiB: 256,
  planRssMiB: 200,
  /** Peak RSS of planning from the smallest to the largest size of BENCH_PLAN_BLOBS: at most this much more. */
  planGrowth: 0.1,
  /** Peak memory and per-shard requests of the scale model: the same at both sizes within this fraction. */
  scaleFlat: 0.1,
  importMs: 300,
  /** Issue 17: whole-process speed against rclone (rclone seconds / migrate seconds), CPU against rclone's, WAN profile, incremental passes. */
  speedVsRclone: { large: 1.0, small: 1.6, mix: 1.0 } as Record<string, number>,
  cpuVsRclone: 0.8,
  wanVsRclone: { large: 1.0, small: 2.0 } as Record<string, number>,
  incrementalDestPerObject: 0.01,
};
