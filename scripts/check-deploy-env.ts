// Run before `serverless deploy` by scripts/serverless-scaleway-deploy.cjs, with
// `--plan JSON`: what serverless.yml will deploy, as the framework resolved it
// (variables and --param values). Refuses to deploy functions that would fail
// for want of a variable, or triggers that would read queues that are missing
// or misconfigured. Prints names, never values.
import { homedir } from "node:os";
import { parseArgs } from "node:util";
import { createSqsClient } from "../shared/sdk-clients.ts";
import { loadQueueConfig, loadRetryPolicy } from "../shared/config.ts";
import { checkDeployEnv, type DeployPlan } from "../shared/provision/deploy-env.ts";
import { checkQueues, queuesToCheck } from "../shared/provision/deploy-queues.ts";

const { values } = parseArgs({ options: { plan: { type: "string" } } });
const plan = values.plan ? (JSON.parse(values.plan) as DeployPlan) : undefined;
const { errors, warnings } = checkDeployEnv(process.env, { homeDir: homedir(), plan });

if (errors.length === 0 && plan) {
  // Queue credentials are present (checked above): the provisioning one when set, else the functions'.
  const q = loadQueueConfig(process.env, undefined);
  const admin = process.env.SQS_ADMIN_ACCESS_KEY_ID && process.env.SQS_ADMIN_SECRET_ACCESS_KEY;
  const sqsConfig = admin ? { ...q.sqs!, accessKeyId: process.env.SQS_ADMIN_ACCESS_KEY_ID!, secretAccessKey: process.env.SQS_ADMIN_SECRET_ACCESS_KEY! } : q.sqs!;
  const sqs = createSqsClient(sqsConfig, { ...loadRetryPolicy(process.env), budgetMs: 15_000 });
  const queues = await checkQueues(sqs, queuesToCheck(q.workerQueueUrls, q.controlQueueUrl, plan));
  sqs.destroy();
  errors.push(...queues.errors);
  warnings.push(...queues.warnings);
}

for (const w of warnings) process.stderr.write(`deploy: warning: ${w}\n`);
for (const e of errors) process.stderr.write(`deploy: ${e}\n`);
if (errors.length > 0) {
  process.stderr.write("deploy: not deploying; see docs/deploy.md\n");
  process.exitCode = 2;
} else {
  process.stdout.write("deploy: environment complete\n");
}
