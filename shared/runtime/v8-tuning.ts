/**
 * Two of V8's heuristics, set for how this tool's processes live: seconds to
 * hours of the same few hot functions, a small live heap and a high rate of
 * short-lived allocation (listing pages, state objects). Called once, before
 * the hot path first runs, by the CLI and by both functions' handlers. A flag
 * node was started with (on its command line or in NODE_OPTIONS) is left as
 * the operator set it.
 *
 * How soon V8 optimizes a function. V8 runs new code in its interpreter and
 * baseline tier and hands a function to its optimizing compiler (TurboFan)
 * once the function has used an "interrupt budget" of bytecode. Every function
 * of a copy's hot path tiers up within its first hundred objects; on the
 * bench machine the optimizing compiler's threads were 15% of the CPU of a
 * copy of 2,000 x 16 KiB (sampled with perf: more than the hashing, the
 * signing and the collector together), for code that ran only a few seconds
 * longer. With eight times the default budget only what stays hot is
 * optimized: that copy took 1.87-2.01 CPU-s instead of 2.16-2.40 at the same
 * speed, 2 x 256 MiB and a dry run of 300,000 blobs no more. A function's
 * budget is set when it first needs one.
 *
 * How far the heap grows past what is live. After each full collection V8
 * lets the old generation grow to up to four times what survived, more the
 * longer a process allocates quickly; a dry run over 10^6 blobs holds some 25
 * MiB (a listing page, the shards being cut) and peaked at 246 MiB of RSS
 * against 168 MiB at 10^5, the difference being garbage not yet collected.
 * Bounded at twice what is live, the same runs peak at 176 and 150 MiB, with
 * the same CPU (more full collections, fewer costly scavenges: 3.7 s of
 * collection against 4.9 s at 10^6). It can not be capped with
 * --max-old-space-size at run time: V8 reads that flag only as the heap is
 * created; the growing factor it reads at every collection.
 */
import { setFlagsFromString } from "node:v8";

/** Eight times V8's default of Node 20 (67,584). */
export const INTERRUPT_BUDGET = 8 * 67_584;
/** The old generation may grow to (1 + 100/100) times what survived the last full collection. */
export const HEAP_GROWING_PERCENT = 100;

/** Flags node was started with: its command line and NODE_OPTIONS. */
export function startFlags(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ""): string[] {
  return [...execArgv, ...nodeOptions.split(/\s+/).filter(Boolean)];
}

const given = (flags: readonly string[], name: string) => flags.some((a) => new RegExp(`^--${name.replace(/-/g, "[-_]")}(=|$)`).test(a));

/** Raises the tier-up budget, unless node was started with its own. */
export function raiseTierUpBudget(flags: readonly string[] = startFlags()): boolean {
  if (given(flags, "interrupt-budget")) return false;
  setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
  return true;
}

/** Bounds the heap's growth past what is live, unless node was started with its own factor. */
export function boundHeapGrowth(flags: readonly string[] = startFlags()): boolean {
  if (given(flags, "heap-growing-percent")) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}

/** Both, for a process about to run the CLI or a function's handler. */
export function tuneV8(flags: readonly string[] = startFlags()): void {
  raiseTierUpBudget(flags);
  boundHeapGrowth(flags);
}
