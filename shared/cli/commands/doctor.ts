import type { Command } from "commander";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { createS3Client } from "../../clients.ts";
import { DEFAULT_STATE_PREFIX, loadConfigValues, loadRetryPolicy, loadS3Config } from "../../config.ts";
import { ConfigError } from "../../errors.ts";
import { StateLayout } from "../../state/layout.ts";
import { checkSweep } from "../../doctor/sweep.ts";
import { registerSecret } from "../../redact.ts";
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
 * version and configuration, and runs its own access checks; and that the
 * sweep's schedule fires (its last time in the state bucket). Prints a
 * checklist; exit 0 only when every line passes. It copies no data.
 */
export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("After a deploy: check the namespace, functions, secrets, variables and triggers on Scaleway against your exports and serverless.yml, ping each function, and have it check its own access")
    .option("--serverless-yml <file>", "the deployed serverless.yml", "serverless.yml")
    .option("--from <azure://CONTAINER[/PREFIX]>", "source the functions must be able to list (one page)")
    .option("--to <s3://BUCKET>", "destination bucket the functions must be able to write (a probe object, deleted at once)")
    .option("--timeout <seconds>", "how long a function may take to answer its ping", "60")
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
      const source = opts.from === undefined ? undefined : parseAzureUrl(opts.from, "--from");
      const destination = opts.to === undefined ? undefined : parseS3Url(opts.to, "--to");
      if ((source === undefined) !== (destination === undefined)) throw new ConfigError("--from and --to go together: the functions check both");
      const timeoutMs = seconds(opts.timeout, "--timeout") * 1000;
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
      if (view.namespaceId && view.functions.length > 0) {
        const token = await namespaceToken(api, view.namespaceId, 15);
        registerSecret(token.token);
        try {
          const pinged = await pingFunctions(view.functions, {
            id: newPingId(),
            secret: pingSecret,
            token: token.token,
            version: buildVersion(),
            expected,
            ...(source && destination ? { probe: { container: source.container, prefix: source.prefix, bucket: destination.bucket } } : {}),
            timeoutMs,
          });
          checks.push(...pinged.checks);
        } finally {
          await token.revoke().catch(() => undefined);
        }
      }

      const s3 = createS3Client(loadS3Config(e), { ...loadRetryPolicy(e), budgetMs: 15_000 });
      let heartbeat: string | undefined;
      try {
        const got = await s3.send(new GetObjectCommand({ Bucket: stateBucket, Key: new StateLayout(DEFAULT_STATE_PREFIX).sweepHeartbeat() }));
        heartbeat = await got.Body!.transformToString();
      } catch (err) {
        if ((err as { name?: string }).name !== "NoSuchKey") throw err;
      } finally {
        s3.destroy();
      }
      checks.push(checkSweep(heartbeat, schedule.rate, new Date()));

      for (const c of checks) process.stdout.write(c.ok ? `  ok    ${c.what}\n` : `  FAIL  ${c.what}: ${c.fix}\n`);
      const failed = checks.filter((c) => !c.ok).length;
      process.stdout.write(failed === 0 ? `doctor: all ${checks.length} checks passed\n` : `doctor: ${failed} of ${checks.length} checks failed\n`);
      process.exitCode = failed === 0 ? 0 : 1;
    });
}
