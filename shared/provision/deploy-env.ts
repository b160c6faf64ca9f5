/**
 * Checks, before `serverless deploy`, that the operator's environment holds
 * what serverless.yml passes to the functions. serverless.yml falls back to
 * empty values so that `print` and `package` work offline; a deploy with a
 * missing variable would give functions that fail on their first message.
 * Validation is the functions' own (shared/config.ts), plus what only the
 * deployment knows: queue names and count, deploy credentials, region.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadAzureConfig, loadConfig, loadQueueConfig, loadS3Config, loadTuning, type Env } from "../config.ts";
import { ConfigError } from "../errors.ts";
import { queueNames } from "./provision.ts";
import { QUEUES_REGIONS } from "./scaleway-queues.ts";

export interface DeployEnvCheck {
  errors: string[];
  warnings: string[];
}

function value(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

function lastPathSegment(url: string): string {
  try {
    return new URL(url).pathname.split("/").filter(Boolean).pop() ?? "";
  } catch {
    return "";
  }
}

export function checkDeployEnv(env: Env, options: { homeDir?: string } = {}): DeployEnvCheck {
  const errors: string[] = [];
  const warnings: string[] = [];

  // Deploy credentials (read by the Scaleway plugin, never given to the functions).
  const scwConfig = options.homeDir ? join(options.homeDir, ".config", "scw", "config.yaml") : undefined;
  const hasScwEnv = value(env, "SCW_SECRET_KEY") && value(env, "SCW_DEFAULT_PROJECT_ID");
  if (!hasScwEnv && !(scwConfig && existsSync(scwConfig))) {
    errors.push("SCW_SECRET_KEY and SCW_DEFAULT_PROJECT_ID must be set (an IAM API key allowed to deploy functions), or ~/.config/scw/config.yaml must exist");
  }
  const region = value(env, "SCW_REGION") ?? "fr-par";
  if (!(QUEUES_REGIONS as readonly string[]).includes(region)) errors.push(`SCW_REGION must be one of ${QUEUES_REGIONS.join(", ")}: queue triggers exist only there (got "${region.slice(0, 20)}")`);

  // What the functions will read, validated by their own loader (each part, to report every problem at once).
  const before = errors.length;
  for (const load of [() => loadAzureConfig(env), () => loadS3Config(env), () => loadQueueConfig(env, undefined), () => loadTuning(env)]) {
    try {
      load();
    } catch (err) {
      if (err instanceof ConfigError) errors.push(err.message);
      else throw err;
    }
  }
  if (errors.length === before) {
    try {
      loadConfig(env);
    } catch (err) {
      if (err instanceof ConfigError) errors.push(err.message);
      else throw err;
    }
  }

  // Queues: as provisioned, and as many as the triggers serverless.yml will create.
  const prefix = value(env, "QUEUE_PREFIX") ?? "migrate";
  const count = Number(value(env, "WORKER_QUEUE_COUNT") ?? "2");
  const workerUrls = (value(env, "WORKER_QUEUE_URLS") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const control = value(env, "CONTROL_QUEUE_URL");
  if (!value(env, "SQS_ENDPOINT")) errors.push("SQS_ENDPOINT must be set (printed by `migrate provision`)");
  if (!value(env, "SQS_ACCESS_KEY_ID") || !value(env, "SQS_SECRET_ACCESS_KEY")) errors.push("SQS_ACCESS_KEY_ID and SQS_SECRET_ACCESS_KEY must be set (the queue credential printed by `migrate provision`)");
  if (workerUrls.length === 0) errors.push("WORKER_QUEUE_URLS must be set (printed by `migrate provision`)");
  if (!control) errors.push("CONTROL_QUEUE_URL must be set (printed by `migrate provision`)");
  if (Number.isInteger(count) && count > 0 && workerUrls.length > 0) {
    const expected = queueNames(prefix, count);
    if (workerUrls.length !== count) {
      errors.push(`WORKER_QUEUE_URLS lists ${workerUrls.length} queues but WORKER_QUEUE_COUNT is ${count}: every worker queue needs its trigger, and every trigger its queue`);
    } else {
      workerUrls.forEach((u, i) => {
        if (lastPathSegment(u) !== expected.workers[i]) errors.push(`WORKER_QUEUE_URLS entry ${i + 1} is not queue ${expected.workers[i]} (QUEUE_PREFIX=${prefix}): the trigger would read another queue`);
      });
    }
    if (control && lastPathSegment(control) !== expected.control) errors.push(`CONTROL_QUEUE_URL is not queue ${expected.control} (QUEUE_PREFIX=${prefix})`);
  }

  if (!value(env, "START_TOKEN")) warnings.push("START_TOKEN is not set: HTTP starts are then guarded only by the private function's token");
  // The scheduled sweep (finishing runs whose last message was lost, re-sending shards of silent workers) looks for runs there.
  if (!value(env, "STATE_BUCKET")) errors.push("STATE_BUCKET must be set for a deployment: the scheduled sweep finds runs there (it may be the destination bucket; state stays under .migrate-state/)");
  return { errors, warnings };
}
