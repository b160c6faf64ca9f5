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
import { loadAzureConfig, loadConfig, loadDeployEnv, loadQueueConfig, loadS3Config, loadTuning, type Env } from "../config.ts";
import { ConfigError } from "../errors.ts";
import { queueNames } from "./options.ts";
import { QUEUES_REGIONS } from "./scaleway-queues.ts";

export interface DeployEnvCheck {
  errors: string[];
  warnings: string[];
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
  const d = loadDeployEnv(env);

  // Deploy credentials (read by the Scaleway plugin, never given to the functions).
  const scwConfig = options.homeDir ? join(options.homeDir, ".config", "scw", "config.yaml") : undefined;
  if (!d.hasScalewayKey && !(scwConfig && existsSync(scwConfig))) {
    errors.push("SCW_SECRET_KEY and SCW_DEFAULT_PROJECT_ID must be set (an IAM API key allowed to deploy functions), or ~/.config/scw/config.yaml must exist");
  }
  const region = d.region;
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
  const prefix = d.queuePrefix;
  const count = d.workerQueueCount;
  const workerUrls = d.workerQueueUrls;
  const control = d.controlQueueUrl;
  if (!d.sqsEndpoint) errors.push("SQS_ENDPOINT must be set (printed by `migrate provision`)");
  if (!d.hasSqsCredentials) errors.push("SQS_ACCESS_KEY_ID and SQS_SECRET_ACCESS_KEY must be set (the queue credential printed by `migrate provision`)");
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

  if (!d.hasStartToken) warnings.push("START_TOKEN is not set: HTTP starts are then guarded only by the private function's token");
  // The scheduled sweep (finishing runs whose last message was lost, re-sending shards of silent workers) looks for runs there.
  if (!d.stateBucket) errors.push("STATE_BUCKET must be set for a deployment: the scheduled sweep finds runs there (it may be the destination bucket; state stays under .migrate-state/)");
  return { errors, warnings };
}
