/**
 * The worker function: one queue message per invocation. A message that can never
 * succeed (malformed, oversized, unknown version, unknown run) is recorded and
 * answered 2xx so the trigger does not burn its retries; any other failure answers
 * 500 so the trigger retries.
 */
import { BadMessageError } from "../errors.ts";
import { parseMessage, WorkerMessage } from "../messages.ts";
import { answerPing, type HandlerOptions } from "../runtime/ping.ts";
import { describeError } from "../redact.ts";
import type { Deps } from "../runtime/deps.ts";
import { eventBody, json, type FunctionEvent, type FunctionResponse } from "../runtime/http.ts";
import { recordRejected } from "../runtime/rejected.ts";
import { runShard, type ShardOptions } from "./run-shard.ts";
import { runRange } from "./giant.ts";
import { readJson } from "../state/json.ts";
import type { ShardManifest } from "../state/layout.ts";

export function createWorkerHandler(getDeps: () => Deps, options: ShardOptions & HandlerOptions = {}) {
  return async (event: FunctionEvent, _context?: unknown): Promise<FunctionResponse> => {
    const raw = eventBody(event);
    let msg: WorkerMessage;
    try {
      msg = parseMessage(WorkerMessage, raw);
    } catch (err) {
      if (!(err instanceof BadMessageError)) throw err;
      await recordRejected(getDeps(), raw, err);
      return json(200, { rejected: err.message });
    }
    if (msg.type === "ping") return answerPing("worker", msg, event, options.configValues, getDeps);
    const deps = getDeps();
    try {
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
