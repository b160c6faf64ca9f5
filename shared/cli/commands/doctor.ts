import type { Command } from "commander";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { createS3Client } from "../../clients.ts";
import { DEFAULT_STATE_PREFIX, loadRetryPolicy, loadS3Config } from "../../config.ts";
import { ConfigError } from "../../errors.ts";
import { StateLayout } from "../../state/layout.ts";
import { checkSweep } from "../../doctor/sweep.ts";
import { registerSecret } from "../../redact.ts";
import { checkDeployment, functionsApi } from "../../doctor/deployment.ts";
import { scheduleEvents, secretNames } from "../../local/schedule-trigger.ts";

const NAMESPACE = "azure-to-scaleway-migrator";
/** Variables the functions route by: they must be the operator's own. */
const ROUTING_VARIABLES = ["WORKER_QUEUE_URLS", "CONTROL_QUEUE_URL", "SQS_ENDPOINT", "STATE_BUCKET"];

function set(e: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = e[name]?.trim();
  return v ? v : undefined;
}

const lastSegment = (url: string) => url.split("/").filter(Boolean).pop() ?? "";

/**
 * `migrate doctor`: after a deploy, checks what serverless.yml and the
 * operator's exports should have produced on Scaleway, and that the sweep's
 * schedule fires (its last time in the state bucket). Prints a checklist;
 * exit 0 only when every line passes. It reads only: it never copies data.
 */
export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("After a deploy: check the namespace, functions, secrets, variables and triggers on Scaleway against your exports and serverless.yml")
    .option("--serverless-yml <file>", "the deployed serverless.yml", "serverless.yml")
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
      const schedule = scheduleEvents(opts.serverlessYml).find((s) => s.functionName === "coordinator");
      if (!schedule) throw new ConfigError(`${opts.serverlessYml} declares no schedule trigger for the coordinator`);
      const secrets = secretNames(opts.serverlessYml);
      const exported = (names: string[]) => names.filter((n) => set(e, n) !== undefined);

      const checks = await checkDeployment(functionsApi(baseUrl, secretKey), {
        namespace: NAMESPACE,
        projectId,
        namespaceSecrets: exported(secrets.namespace),
        functionSecrets: Object.fromEntries(Object.entries(secrets.functions).map(([f, names]) => [f, exported(names)])),
        namespaceVariables: Object.fromEntries(ROUTING_VARIABLES.filter((n) => set(e, n) !== undefined).map((n) => [n, set(e, n)!])),
        workerQueues: workerUrls.map(lastSegment),
        controlQueue: lastSegment(control),
        schedule: schedule.rate,
      });
      const stateBucket = set(e, "STATE_BUCKET");
      if (!stateBucket) throw new ConfigError("STATE_BUCKET must be set, as for the deploy: the sweep leaves its time there");
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
