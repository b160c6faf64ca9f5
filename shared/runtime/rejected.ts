/**
 * A message that can never succeed (malformed, oversized, unknown version) is
 * recorded under its run's `rejected/` so that the operator sees it, and the
 * handler answers 2xx so the trigger does not burn its retries on it.
 */
import { createHash } from "node:crypto";
import type { BadMessageError } from "../errors.ts";
import { safeRunId } from "../messages.ts";
import { describeError } from "../redact.ts";
import type { Deps } from "./deps.ts";

export async function recordRejected(deps: Deps, raw: string, err: BadMessageError): Promise<void> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const runId = safeRunId(parsed) ?? (err.context.runId as string | undefined);
  const stateBucket = (parsed as { stateBucket?: unknown } | undefined)?.stateBucket;
  const bucket = typeof stateBucket === "string" && /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(stateBucket) ? stateBucket : deps.stateBucket;
  deps.log.warn("message-rejected", { runId, reason: err.message });
  if (!runId || !bucket) return;
  const id = createHash("sha256").update(raw).digest("hex").slice(0, 16);
  await deps
    .state(bucket)
    .put(deps.layout.run(runId).rejected(id), JSON.stringify({ reason: err.message, bytes: Buffer.byteLength(raw), at: new Date(deps.now()).toISOString() }))
    .catch((e) => deps.log.error("rejected-record-failed", { runId, error: describeError(e) }));
}
