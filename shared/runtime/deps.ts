/**
 * What a handler needs, built once per function instance (or once per local run)
 * and passed down: no handler reads the environment or builds clients itself.
 */
import type { BlobSource, MessageBus, ObjectSink, StateStore } from "../ports.ts";
import type { Logger } from "../logger.ts";
import type { MemoryBudget } from "../copy/types.ts";
import type { Tuning } from "../limits.ts";
import { StateLayout } from "../state/layout.ts";

export interface Deps {
  source: BlobSource;
  sink: ObjectSink;
  /** The state store of a bucket (the run's state bucket). */
  state(bucket: string): StateStore;
  bus: MessageBus;
  log: Logger;
  memory: MemoryBudget;
  tuning: Tuning;
  layout: StateLayout;
  /** State bucket when set by configuration; otherwise the run's destination bucket. */
  stateBucket?: string;
  /** Deadline of one invocation and the margin kept before it, in ms. */
  functionTimeoutMs: number;
  deadlineMarginMs: number;
  /** A shard whose lease is older than this is taken over, in ms. */
  leaseMs: number;
  storageClassMap?: Record<string, string>;
  /** Region of the destination's S3 endpoint (S3_REGION): checked for --hds runs. */
  s3Region?: string;
  /** Shared secret for HTTP starts; undefined = rely on the platform's private-function token. */
  startToken?: string;
  now(): number;
  /** Called for every progress event of the engine (local CLI progress display). */
  onProgress?: (event: import("../copy/types.ts").ProgressEvent) => void;
}

/** Time left in this invocation, and a signal that fires when the margin is reached. */
export function invocationDeadline(deps: Pick<Deps, "functionTimeoutMs" | "deadlineMarginMs" | "now">, startedAt = deps.now()) {
  const deadline = startedAt + deps.functionTimeoutMs;
  const stopAt = deadline - deps.deadlineMarginMs;
  const controller = new AbortController();
  const ms = Math.max(0, stopAt - deps.now());
  const timer = setTimeout(() => controller.abort(new Error("deadline")), ms);
  timer.unref?.();
  return {
    deadline,
    signal: controller.signal,
    remainingMs: () => deadline - deps.now(),
    nearing: () => deps.now() >= stopAt,
    dispose: () => clearTimeout(timer),
  };
}
