import type { Command } from "commander";
import { DEFAULT_STATE_PREFIX, loadConfigValues, loadQueueConfig, loadRetryPolicy, loadS3Config } from "../../config.ts";
import { S3StateStore } from "../../s3/state-store.ts";
import { pingThroughQueues } from "../../doctor/queue-pings.ts";
import { ConfigError } from "../../errors.ts";
import { StateLayout } from "../../state/layout.ts";
import { checkSweep } from "../../doctor/sweep.ts";
import { describeError, registerSecret } from "../../redact.ts";
import { checkDeployment, functionsApi, namespaceToken, type Check } from "../../doctor/deployment.ts";
import { newPingId, pingFunctions } from "../../doctor/function-pings.ts";
import { fingerprint } from "../../runtime/fingerprint.ts";
import type { FunctionName } from "../../runtime/ping.ts";
import { parseAzureUrl, parseS3Url } from "../../locations.ts";
import { buildVersion } from "../../version.ts";
import { scheduleEvents, secretNames } from "../../local/schedule-trigger.ts";

const NAMESPACE = "azure-to-scaleway-migrator";
/** Variables the functions route by: they must be the operator's own. */
const ROUTING_VARIABLES = ["WORKER_QUEUE_URLS", "CONTROL_QUEUE_URL", "SQS_ENDPOINT", "STATE_BUCKET"];
const FUNCTIONS: FunctionName[] = ["coordinator", "worker"];

function set(e: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = e[name]?.trim();
  return v ? v : undefined;
}

const lastSegment = (url: string) => url.split("/").filter(Boolean).pop() ?? "";

function seconds(raw: string, flag: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 1 || n > 3600) throw new ConfigError(`${flag} must be a number of seconds between 1 and 3600 (got "${raw}")`);
  return n;
}

/**
 * `migrate doctor`: after a deploy, checks what serverless.yml and the
 * operator's exports should have produced on Scaleway (through the Functions
 * API), then the functions themselves: each answers a signed ping with its
 * version and configuration, and runs its own access checks; a ping through
 * each queue reaches the function its trigger calls; and that the
 * sweep's schedule fires (its last time in the state bucket). Prints a
 * checklist; exit 0 only when every line passes. It copies no data.
 */
export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("After a deploy: check the namespace, functions, secrets, variables and triggers on Scaleway against your exports and serverless.yml, ping each function, and have it check its own access")
    .option("--serverless-yml <file>", "the deployed serverless.yml", "serverless.yml")
    .requiredOption("--from <azure://CONTAINER[/PREFIX]>", "source the functions must be able to list (one page)")
    .requiredOption("--to <s3://BUCKET>", "destination bucket the functions must be able to write (a probe object, deleted at once)")
    .option("--timeout <seconds>", "how long a function may take to answer its ping", "60")
    .option("--wait <seconds>", "how long to wait for the pings sent through the queues to be answered", "60")
    .action(async (opts) => {
      const e = process.env;
      const secretKey = set(e, "SCW_SECRET_KEY");
      const projectId = set(e, "SCW_DEFAULT_PROJECT_ID");
      if (!secretKey || !projectId) throw new ConfigError("SCW_SECRET_KEY and SCW_DEFAULT_PROJECT_ID must be set (the key that deployed)");
      registerSecret(secretKey);
      const region = set(e, "SCW_REGION") ?? "fr-par";
      const baseUrl = set(e, "SCW_FUNCTION_URL") ?? `https://api.scaleway.com/functions/v1beta1/regions/${region}`;
      const workerUrls = (set(e, "WORKER_QUEUE_URLS") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
      const control = set(e, "CONTROL_QUEUE_URL");
      if (workerUrls.length === 0 || !control) throw new ConfigError("WORKER_QUEUE_URLS and CONTROL_QUEUE_URL must be set, as for the deploy");
      const pingSecret = set(e, "SQS_SECRET_ACCESS_KEY");
      if (!pingSecret || !set(e, "SQS_ACCESS_KEY_ID")) throw new ConfigError("SQS_ACCESS_KEY_ID and SQS_SECRET_ACCESS_KEY must be set, as for the deploy: the pings are signed with the secret");
      registerSecret(pingSecret);
      const stateBucket = set(e, "STATE_BUCKET");
      if (!stateBucket) throw new ConfigError("STATE_BUCKET must be set, as for the deploy: the sweep leaves its time there");
      const source = parseAzureUrl(opts.from, "--from");
      const destination = parseS3Url(opts.to, "--to");
      const timeoutMs = seconds(opts.timeout, "--timeout") * 1000;
      const waitMs = seconds(opts.wait, "--wait") * 1000;
      const schedule = scheduleEvents(opts.serverlessYml).find((s) => s.functionName === "coordinator");
      if (!schedule) throw new ConfigError(`${opts.serverlessYml} declares no schedule trigger for the coordinator`);
      const secrets = secretNames(opts.serverlessYml);
      const exported = (names: string[]) => names.filter((n) => set(e, n) !== undefined);
      const local = loadConfigValues(e);

      const api = functionsApi(baseUrl, secretKey);
      const view = await checkDeployment(api, {
        namespace: NAMESPACE,
        projectId,
        namespaceSecrets: exported(secrets.namespace),
        functionSecrets: Object.fromEntries(Object.entries(secrets.functions).map(([f, names]) => [f, exported(names)])),
        namespaceVariables: Object.fromEntries(ROUTING_VARIABLES.filter((n) => set(e, n) !== undefined).map((n) => [n, set(e, n)!])),
        workerQueues: workerUrls.map(lastSegment),
        controlQueue: lastSegment(control),
        schedule: schedule.rate,
      });
      const checks: Check[] = [...view.checks];

      // The functions themselves: what each should hold is what serverless.yml gives it from these exports.
      const expected = Object.fromEntries(
        FUNCTIONS.map((fn) => {
          const given = new Set([...secrets.namespace, ...(secrets.functions[fn] ?? [])]);
          return [fn, fingerprint({ values: local.values, secretsSet: local.secretsSet.filter((n) => given.has(n)) })];
        }),
      ) as Record<FunctionName, ReturnType<typeof fingerprint>>;
      const id = newPingId();
      const configErrors: Partial<Record<FunctionName, string>> = {};
      if (view.namespaceId && view.functions.length > 0) {
        const token = await namespaceToken(api, view.namespaceId, 15).catch((err: unknown) => {
          checks.push({ ok: false, what: `could not create a namespace token to call the private functions (${describeError(err)})`, fix: "your SCW_SECRET_KEY needs FunctionsFullAccess on the project" });
          return { token: undefined, revoke: async () => undefined };
        });
        if (token.token) registerSecret(token.token);
        try {
          const pinged = await pingFunctions(view.functions, {
            id,
            secret: pingSecret,
            ...(token.token ? { token: token.token } : {}),
            version: buildVersion(),
            expected,
            probe: { container: source.container, prefix: source.prefix, bucket: destination.bucket },
            queues: { workers: workerUrls.map(lastSegment), control: lastSegment(control) },
            timeoutMs,
          });
          checks.push(...pinged.checks);
          for (const [fn, answer] of Object.entries(pinged.answers)) if (answer?.configError) configErrors[fn as FunctionName] = answer.configError;
        } finally {
          await token.revoke().catch(() => undefined);
        }
      }

      // The state bucket, read and cleaned with your Object Storage key (and SSE-C key when the state is encrypted).
      const s3Config = loadS3Config(e);
      const retry = { ...loadRetryPolicy(e), budgetMs: 15_000 };
      const { createS3Client, createSqsClient } = await import("../../sdk-clients.ts");
      const s3 = createS3Client(s3Config, retry);
      const state = new S3StateStore(async () => s3, stateBucket, undefined, s3Config.encryptState ? s3Config.sseCustomerKey : undefined);
      const layout = new StateLayout(DEFAULT_STATE_PREFIX);
      const sqs = createSqsClient(loadQueueConfig(e, s3Config).sqs!, retry);
      try {
        checks.push(
          ...(await pingThroughQueues(
            [...workerUrls.map((url) => ({ queue: lastSegment(url), url, function: "worker" as const })), { queue: lastSegment(control), url: control, function: "coordinator" as const }],
            { id, secret: pingSecret, sqs, stateBucket, state, layout, waitMs, configErrors },
          )),
        );
        checks.push(checkSweep((await state.get(layout.sweepHeartbeat()))?.body, schedule.rate, new Date()));
      } finally {
        s3.destroy();
        sqs.destroy();
      }

      for (const c of checks) process.stdout.write(c.ok ? `  ok    ${c.what}\n` : `  FAIL  ${c.what}: ${c.fix}\n`);
      const failed = checks.filter((c) => !c.ok).length;
      process.stdout.write(failed === 0 ? `doctor: all ${checks.length} checks passed\n` : `doctor: ${failed} of ${checks.length} checks failed\n`);
      process.exitCode = failed === 0 ? 0 : 1;
    });
}
