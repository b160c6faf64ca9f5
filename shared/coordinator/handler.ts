/**
 * The coordinator function: start requests (HTTP or queue; see refusal.ts for
 * how a start that can never succeed is answered), listing
 * continuations, shard-done messages and the scheduled sweep.
 */
import { timingSafeEqual } from "node:crypto";
import { BadMessageError, MigrationError } from "../errors.ts";
import { ControlMessage, parseMessage } from "../messages.ts";
import { describeError } from "../redact.ts";
import { invocationDeadline, type Deps } from "../runtime/deps.ts";
import { eventBody, json, type FunctionEvent, type FunctionResponse } from "../runtime/http.ts";
import { recordRejected } from "../runtime/rejected.ts";
import { aggregate } from "./aggregate.ts";
import { shardDone } from "./completion.ts";
import { listStep } from "./listing.ts";
import { refuseStart } from "./refusal.ts";
import { startRun } from "./start.ts";
import { sweep } from "./sweep.ts";
import { answerPing, type HandlerOptions } from "../runtime/ping.ts";

/** START_TOKEN, when set, is a second lock on starts besides the platform's function token. */
function tokenMatches(event: FunctionEvent, token: string): boolean {
  const headers = Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
  const given = Buffer.from(headers["x-migrate-token"] ?? "");
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function createCoordinatorHandler(getDeps: () => Deps, options: HandlerOptions = {}) {
  return async (event: FunctionEvent, _context?: unknown): Promise<FunctionResponse> => {
    const raw = eventBody(event);
    let msg: ControlMessage;
    try {
      msg = parseMessage(ControlMessage, raw);
    } catch (err) {
      const deps = getDeps();
      if (err instanceof BadMessageError) {
        // A bad start is refused: 400 over HTTP with nothing written, recorded and 2xx from the queue.
        if (/"type"\s*:\s*"start"/.test(raw)) return refuseStart(deps, event, raw, 400, err.message);
        await recordRejected(deps, raw, err);
        return json(200, { error: err.message });
      }
      throw err;
    }
    if (msg.type === "ping") return answerPing("coordinator", msg, event, options.configValues, getDeps);
    const deps = getDeps();
    if (msg.type === "start" && deps.startToken && !tokenMatches(event, deps.startToken)) {
      deps.log.warn("start-refused", { runId: msg.runId, reason: "missing or wrong X-Migrate-Token" });
      return refuseStart(deps, event, raw, 401, "start refused: missing or wrong X-Migrate-Token");
    }
    const deadline = invocationDeadline(deps);
    try {
      switch (msg.type) {
        case "start":
          return json(202, await startRun(deps, msg, deadline));
        case "continue-listing":
          return json(200, { outcome: await listStep(deps, msg, deadline) });
        case "shard-done": {
          const complete = await shardDone(deps, msg.runId, msg.stateBucket, msg.shardId);
          const report = complete ? await aggregate(deps, msg.runId, msg.stateBucket, deadline, { complete: true }) : undefined;
          return json(200, { finished: !!report });
        }
        case "continue-aggregation": {
          const report = await aggregate(deps, msg.runId, msg.stateBucket, deadline);
          return json(200, { finished: !!report });
        }
        case "sweep":
          return json(200, await sweep(deps, { runId: msg.runId, stateBucket: msg.stateBucket }));
      }
    } catch (err) {
      if (msg.type === "start" && err instanceof MigrationError && err.code === "bad-request") return refuseStart(deps, event, raw, 400, err.message);
      if (msg.type === "start" && err instanceof MigrationError && err.code === "run-id-conflict") return refuseStart(deps, event, raw, 409, err.message);
      if (err instanceof MigrationError && err.code === "bad-request") return json(400, { error: err.message });
      if (err instanceof MigrationError && err.code === "run-id-conflict") return json(409, { error: err.message });
      deps.log.error("coordinator-failed", { type: msg.type, runId: "runId" in msg ? msg.runId : undefined, error: describeError(err) });
      return json(500, { error: describeError(err) });
    } finally {
      deadline.dispose();
    }
  };
}
