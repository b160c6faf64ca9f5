/**
 * A start that can never succeed (invalid request, wrong or missing start
 * token, run id taken by another request): an HTTP caller is answered 400 /
 * 401 / 409 and sees why; a queue delivery is recorded and answered 2xx, since
 * a refusal would only make the trigger retry it and SQS redeliver it until
 * the dead-letter queue, about 20 invocations for nothing.
 *
 * How a delivery is told from a call: Scaleway's queue triggers POST the bare
 * message (no identifying header), while an HTTP caller of the private
 * coordinator sends its function token (X-Auth-Token), and `migrate start`
 * also sends X-Migrate-Client. Any of the headers below marks an HTTP call.
 */
import { createHash } from "node:crypto";
import { safeRunId } from "../messages.ts";
import type { FunctionEvent, FunctionResponse } from "../runtime/http.ts";
import { describeError } from "../redact.ts";
import type { Deps } from "../runtime/deps.ts";
import { isHttpCall, json } from "../runtime/http.ts";

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Where a refused start is recorded: the run's rejected/ when its id is readable, else the run-less log. */
function refusalKey(deps: Deps, runId: string | undefined, raw: string): string {
  const id = createHash("sha256").update(raw).digest("hex").slice(0, 16);
  return runId ? deps.layout.run(runId).rejected(id) : deps.layout.rejected(id);
}

function stateBucketOf(deps: Deps, parsed: unknown): string | undefined {
  if (deps.stateBucket) return deps.stateBucket;
  const destination = (parsed as { destination?: { bucket?: unknown } } | undefined)?.destination?.bucket;
  return typeof destination === "string" && BUCKET.test(destination) ? destination : undefined;
}

export async function refuseStart(deps: Deps, event: FunctionEvent, raw: string, status: 400 | 401 | 409, reason: string): Promise<FunctionResponse> {
  if (isHttpCall(event)) return json(status, { error: reason });
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const runId = safeRunId(parsed);
  const bucket = stateBucketOf(deps, parsed);
  deps.log.warn("start-rejected", { runId, reason, delivery: "queue" });
  if (bucket) {
    const record = { reason, status, delivery: "queue", bytes: Buffer.byteLength(raw), at: new Date(deps.now()).toISOString() };
    await deps
      .state(bucket)
      .put(refusalKey(deps, runId, raw), JSON.stringify(record))
      .catch((e) => deps.log.error("rejected-record-failed", { runId, error: describeError(e) }));
  }
  return json(200, { rejected: reason });
}
