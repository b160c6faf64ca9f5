/**
 * The worker function: one queue message per invocation. A message that can never
 * succeed (malformed, oversized, unknown version, unknown run) is recorded and
 * answered 2xx so the trigger does not burn its retries; any other failure answers
 * 500 so the trigger retries.
 */
import { createHash } from "node:crypto";
import { BadMessageError } from "../errors.ts";
import { parseMessage, safeRunId, WorkerMessage } from "../messages.ts";
import type { FunctionEvent, FunctionResponse } from "../queue/in-process.ts";
import { describeError } from "../redact.ts";
import type { Deps } from "../runtime/deps.ts";
import { eventBody, json } from "../runtime/http.ts";
import { runShard, type ShardOptions } from "./run-shard.ts";
import { runRange } from "./giant.ts";
import { readJson } from "../state/json.ts";
import type { ShardManifest } from "../state/layout.ts";

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

export function createWorkerHandler(getDeps: () => Deps, options: ShardOptions = {}) {
  return async (event: FunctionEvent, _context?: unknown): Promise<FunctionResponse> => {
    const deps = getDeps();
    const raw = eventBody(event);
    try {
      const msg = parseMessage(WorkerMessage, raw);
      if (msg.type === "range") {
        const manifest = (await readJson<ShardManifest>(deps.state(msg.stateBucket), deps.layout.run(msg.runId).shard(msg.shardId)))?.value;
        if (!manifest) throw new BadMessageError(`shard ${msg.shardId} of run ${msg.runId} has no manifest`, { context: { runId: msg.runId } });
        return json(200, { outcome: await runRange(deps, msg, manifest) });
      }
      const outcome = await runShard(deps, msg, options);
      return json(200, { outcome });
    } catch (err) {
      if (err instanceof BadMessageError) {
        await recordRejected(deps, raw, err);
        return json(200, { rejected: err.message });
      }
      deps.log.error("worker-failed", { error: describeError(err) });
      return json(500, { error: describeError(err) });
    }
  };
}
