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
import { queueNames } from "./options.ts";
import { QUEUES_REGIONS } from "./scaleway-queues.ts";

export interface DeployEnvCheck {
  errors: string[];
  warnings: string[];
}

/**
 * What serverless.yml will deploy, as the framework resolved it (variables
 * and --param values included): computed by scripts/serverless-scaleway-deploy.cjs
 * and handed to the check, so that the check sees the triggers that will exist.
 */
export interface DeployPlan {
  region: string;
  project: string;
  /** Queue of each worker trigger, in order. */
  workerQueues: string[];
  /** Queue of the coordinator's trigger. */
  controlQueue: string;
  /** Project and region each queue trigger reads from. */
  triggerProjects: string[];
  triggerRegions: string[];
  workerTimeoutSeconds: number;
  coordinatorTimeoutSeconds: number;
  coordinatorPrivacy: string;
}

/** `sqs.mnq.<region>.scaleway.com`: the region of a Scaleway Queues endpoint, undefined for another server. */
export function scalewaySqsRegion(endpoint: string | undefined): string | undefined {
  if (!endpoint) return undefined;
  try {
    return /^sqs\.mnq\.([a-z]{2}-[a-z]{3})\.scaleway\.com$/.exec(new URL(endpoint).hostname)?.[1];
  } catch {
    return undefined;
  }
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

export function checkDeployEnv(env: Env, options: { homeDir?: string; plan?: DeployPlan } = {}): DeployEnvCheck {
  const plan = options.plan;
  const errors: string[] = [];
  const warnings: string[] = [];

  // Deploy credentials (read by the Scaleway plugin, never given to the functions).
  const scwConfig = options.homeDir ? join(options.homeDir, ".config", "scw", "config.yaml") : undefined;
  const hasScwEnv = value(env, "SCW_SECRET_KEY") && value(env, "SCW_DEFAULT_PROJECT_ID");
  if (!hasScwEnv && !(scwConfig && existsSync(scwConfig))) {
    errors.push("SCW_SECRET_KEY and SCW_DEFAULT_PROJECT_ID must be set (an IAM API key allowed to deploy functions), or ~/.config/scw/config.yaml must exist");
  }
  const region = plan?.region ?? value(env, "SCW_REGION") ?? "fr-par";
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

  // Queues: as provisioned, and as many as the triggers serverless.yml will create
  // (the plan's, when the framework resolved them: --param values included).
  const prefix = value(env, "QUEUE_PREFIX") ?? "migrate";
  const count = plan ? plan.workerQueues.length : Number(value(env, "WORKER_QUEUE_COUNT") ?? "2");
  const workerUrls = (value(env, "WORKER_QUEUE_URLS") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const control = value(env, "CONTROL_QUEUE_URL");
  if (!value(env, "SQS_ENDPOINT")) errors.push("SQS_ENDPOINT must be set (printed by `migrate provision`)");
  if (!value(env, "SQS_ACCESS_KEY_ID") || !value(env, "SQS_SECRET_ACCESS_KEY")) errors.push("SQS_ACCESS_KEY_ID and SQS_SECRET_ACCESS_KEY must be set (the queue credential printed by `migrate provision`)");
  if (workerUrls.length === 0) errors.push("WORKER_QUEUE_URLS must be set (printed by `migrate provision`)");
  if (!control) errors.push("CONTROL_QUEUE_URL must be set (printed by `migrate provision`)");
  if (Number.isInteger(count) && count > 0 && workerUrls.length > 0) {
    const expected = plan ? { workers: plan.workerQueues, control: plan.controlQueue } : queueNames(prefix, count);
    const what = plan ? `serverless.yml's ${count} worker triggers (workerQueues, from WORKER_QUEUE_COUNT or --param)` : `WORKER_QUEUE_COUNT is ${count}`;
    if (workerUrls.length !== count) {
      errors.push(`WORKER_QUEUE_URLS lists ${workerUrls.length} queues but ${what}: every worker queue needs its trigger, and every trigger its queue`);
    } else {
      workerUrls.forEach((u, i) => {
        if (lastPathSegment(u) !== expected.workers[i]) errors.push(`WORKER_QUEUE_URLS entry ${i + 1} is not queue ${expected.workers[i]} (the queue of worker trigger ${i + 1}): the functions would send to a queue no trigger reads`);
      });
    }
    if (control && lastPathSegment(control) !== expected.control) errors.push(`CONTROL_QUEUE_URL is not queue ${expected.control} (the queue of the coordinator's trigger)`);
  }

  // Region, project, endpoint and queue URLs must name the same place: triggers read the
  // queues of (project, region); the functions send to the URLs.
  const endpoint = value(env, "SQS_ENDPOINT");
  const sqsRegion = value(env, "SQS_REGION") ?? "fr-par";
  const endpointRegion = scalewaySqsRegion(endpoint);
  if (endpointRegion !== undefined) {
    if (endpointRegion !== region) errors.push(`SQS_ENDPOINT is in ${endpointRegion} but the functions deploy in ${region} (SCW_REGION): the triggers would read other queues`);
    if (sqsRegion !== endpointRegion) errors.push(`SQS_REGION (${sqsRegion}) does not match SQS_ENDPOINT's region (${endpointRegion})`);
    const endpointOrigin = new URL(endpoint!).origin;
    const project = plan?.project ?? value(env, "SCW_DEFAULT_PROJECT_ID");
    for (const [name, u] of [...workerUrls.map((u, i) => [`WORKER_QUEUE_URLS entry ${i + 1}`, u] as const), ...(control ? [["CONTROL_QUEUE_URL", control] as const] : [])]) {
      let parsed: URL;
      try {
        parsed = new URL(u);
      } catch {
        continue; // reported by the loader above
      }
      if (parsed.origin !== endpointOrigin) errors.push(`${name} is not on SQS_ENDPOINT (${endpointOrigin})`);
      // Scaleway queue URLs carry the project: .../project-<id>/<queue> (the bare <id> is accepted too; the exact form is unverified).
      const urlProject = parsed.pathname.split("/").filter(Boolean)[0]?.replace(/^project-/, "");
      if (project && urlProject !== project) errors.push(`${name} belongs to project ${urlProject ?? "(none)"}, not to the deploy project ${project}: the trigger would read another project's queue`);
    }
  }
  if (plan) {
    for (const p of new Set(plan.triggerProjects)) if (p !== plan.project) warnings.push(`a queue trigger reads from project ${p}, the functions deploy in ${plan.project}`);
    for (const r of new Set(plan.triggerRegions)) if (r !== region) errors.push(`a queue trigger reads queues in ${r} but the functions deploy in ${region}`);
  }

  if (!value(env, "START_TOKEN")) {
    if (plan && plan.coordinatorPrivacy !== "private") errors.push(`START_TOKEN must be set: the coordinator is ${plan.coordinatorPrivacy}, so anyone who finds its URL could start a migration`);
    else warnings.push("START_TOKEN is not set: HTTP starts are then guarded only by the private function's token");
  }
  // The scheduled sweep (finishing runs whose last message was lost, re-sending shards of silent workers) looks for runs there.
  if (!value(env, "STATE_BUCKET")) errors.push("STATE_BUCKET must be set for a deployment: the scheduled sweep finds runs there (it may be the destination bucket; state stays under .migrate-state/)");
  return { errors, warnings };
}
