/**
 * How a function answers `migrate doctor`'s ping (a `ping` message, over HTTP
 * or through a queue): with its version and the fingerprint of the
 * configuration it loaded, even when that configuration is refused (the
 * answer then says why); over HTTP, with a probe, after its own access checks
 * (access-checks.ts). The ping is signed (ping-signature.ts): an unsigned
 * or stale one is refused, 401 over HTTP, 2xx from a queue (a refusal would
 * only be retried). It never touches run state.
 */
import type { ConfigValues } from "../config.ts";
import type { Ping } from "../messages.ts";
import { describeError } from "../redact.ts";
import { ConfigError } from "../errors.ts";
import { buildVersion } from "../version.ts";
import type { Deps } from "./deps.ts";
import { fingerprint, type ConfigFingerprint } from "./fingerprint.ts";
import { isHttpCall, json, type FunctionEvent, type FunctionResponse } from "./http.ts";
import { pingRefusal, signPing } from "./ping-signature.ts";
import { accessChecks, type AccessCheck } from "./access-checks.ts";

export type FunctionName = "coordinator" | "worker";

/** What the handlers take besides their dependencies. */
export interface HandlerOptions {
  /** The configuration's values as loaded (config.ts loadConfigValues): lets the function answer a ping, even when its configuration is refused. */
  configValues?: () => ConfigValues;
}

/** What a function answers (in the HTTP response, or as the object under doctor/ for a queue ping). */
export interface PingAnswer {
  function: FunctionName;
  version: string;
  config: ConfigFingerprint;
  /** Why the function can not build its dependencies (names the variable, never a value). */
  configError?: string;
  /** Over HTTP, with a probe: the function's own access checks. */
  checks?: AccessCheck[];
  at: string;
}

export async function answerPing(name: FunctionName, msg: Ping, event: FunctionEvent, getConfig: (() => ConfigValues) | undefined, getDeps: () => Deps): Promise<FunctionResponse> {
  const refuse = (error: string) => json(isHttpCall(event) ? 401 : 200, { error: `ping refused: ${error}` });
  if (!getConfig) return json(200, { error: "pings are answered by the deployed functions (and migrate serve), not by migrate run" });
  const config = getConfig();
  if (!config.pingSecret) return refuse("SQS_SECRET_ACCESS_KEY is not set in this function, so it can not check the ping's signature");
  const refusal = pingRefusal(msg, msg.sig, config.pingSecret, Date.now());
  if (refusal) return refuse(refusal);
  if (msg.reply === "none") return json(200, { pong: msg.id });

  let deps: Deps | undefined;
  let configError: string | undefined;
  try {
    deps = getDeps();
  } catch (err) {
    configError = err instanceof ConfigError ? err.message : describeError(err);
  }
  const answer: PingAnswer = { function: name, version: buildVersion(), config: fingerprint(config), ...(configError ? { configError } : {}), at: new Date().toISOString() };
  if (msg.reply === "state") {
    // Nowhere to write it (no configuration, no bucket): answered 2xx all the same, a retry would not help.
    if (!deps || !msg.stateBucket || !msg.queue) return json(200, answer);
    try {
      await deps.state(msg.stateBucket).put(deps.layout.doctor(msg.id).queueAnswer(msg.queue), JSON.stringify(answer));
    } catch (err) {
      deps.log.error("ping-answer-failed", { queue: msg.queue, error: describeError(err) });
      return json(200, { ...answer, error: `could not write the answer: ${describeError(err)}` });
    }
    return json(200, { answered: msg.queue });
  }
  if (deps && msg.probe) {
    const secret = config.pingSecret;
    answer.checks = await accessChecks(deps, name, msg.id, msg.probe, (fields) => JSON.stringify({ v: 1, type: "ping", ...fields, sig: signPing(fields, secret) }));
  }
  return json(200, answer);
}
