/**
 * How soon V8 optimizes a function. V8 runs new code in its interpreter and
 * baseline tier and hands a function to its optimizing compiler (TurboFan)
 * once the function has used an "interrupt budget" of bytecode. A copy's
 * process lives seconds to minutes and every function of the hot path tiers
 * up within its first hundred objects; on the bench machine the optimizing
 * compiler's threads were 15% of the CPU of a copy of 2,000 x 16 KiB (sampled
 * with perf: more than the hashing, the signing and the collector together),
 * for code that ran only a few seconds longer. With eight times the default
 * budget only what stays hot is optimized: that copy took 1.87-2.01 CPU-s
 * instead of 2.16-2.40 at the same speed, 2 x 256 MiB and a dry run of 300,000
 * blobs no more. Called before the hot path first runs: a function's budget is
 * set when it first needs one.
 */
import { setFlagsFromString } from "node:v8";

/** Eight times V8's default of Node 20 (67,584). */
export const INTERRUPT_BUDGET = 8 * 67_584;

/** Raises the tier-up budget, unless node was started with its own. */
export function raiseTierUpBudget(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((a) => /^--interrupt[-_]budget(=|$)/.test(a))) return false;
  setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
  return true;
}
