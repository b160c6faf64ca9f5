import { Command } from "commander";
import { loadProvisionEnv, loadRetryPolicy, loadS3Config, type Env, type ProvisionEnv } from "../../config.ts";
import { ConfigError } from "../../errors.ts";
import { DAY, DEFAULT_PROVISION_OPTIONS } from "../../provision/options.ts";
import { formatProvisionReport } from "../../provision/report.ts";
import type { ProvisionDeps } from "../../provision/provision.ts";

const collect = (value: string, previous: string[] = []) => [...previous, value];

function integer(flag: string) {
  return (value: string) => {
    if (!/^\d+$/.test(value)) throw new ConfigError(`${flag} must be a whole number (got "${value.slice(0, 40)}")`);
    return Number(value);
  };
}

interface ProvisionFlags {
  region?: string;
  projectId?: string;
  sqsEndpoint?: string;
  queuePrefix: string;
  workerQueues: number;
  workerTimeout: number;
  coordinatorTimeout: number;
  maxReceiveCount: number;
  retentionDays: number;
  dlqRetentionDays: number;
  bucket: string[];
  stateBucket?: string;
  abortMultipartDays: number;
  hds?: boolean;
  abortMultipartRule: boolean;
}

/**
 * Builds the dependencies from the operator's environment:
 *  - Scaleway API (default): SCW_ACCESS_KEY, SCW_SECRET_KEY, SCW_DEFAULT_PROJECT_ID (or --project-id);
 *    SQS_ADMIN_ACCESS_KEY_ID / SQS_ADMIN_SECRET_ACCESS_KEY once the provisioning credential exists.
 *  - Any SQS server (--sqs-endpoint): SQS_ADMIN_* or else SQS_ACCESS_KEY_ID / SQS_SECRET_ACCESS_KEY.
 *  - Buckets: S3_* as for every other command.
 */
export async function provisionDeps(flags: ProvisionFlags, e: ProvisionEnv, s3Env: Env): Promise<ProvisionDeps> {
  const wantsBuckets = flags.bucket.length > 0 || flags.stateBucket !== undefined;
  const retry = loadRetryPolicy(s3Env);
  // The SDKs are loaded by the commands that need them: every other command starts without them.
  const { createS3Client, createSqsClient } = await import("../../sdk-clients.ts");
  const s3 = wantsBuckets ? createS3Client(loadS3Config(s3Env), retry) : undefined;
  const sqsClient = (config: Parameters<typeof createSqsClient>[0]) => createSqsClient(config, retry);
  if (flags.sqsEndpoint) return { sqsEndpoint: flags.sqsEndpoint, adminCredentials: e.sqsCredentials(), createSqsClient: sqsClient, s3 };
  const { createScalewayQueuesApi } = await import("../../provision/scaleway-queues.ts");
  return { scaleway: createScalewayQueuesApi({ ...e.scaleway(flags.projectId), region: e.region }), adminCredentials: e.admin, createSqsClient: sqsClient, s3 };
}

export function registerProvision(program: Command): void {
  const d = DEFAULT_PROVISION_OPTIONS;
  program
    .command("provision")
    .description(
      "Create, once and idempotently, what `serverless deploy` needs: Queues activated, queue credentials, worker / control / dead-letter queues, buckets with an abort-multipart lifecycle rule. Prints the variables to export.",
    )
    .option("--region <region>", "Scaleway region with Queues: fr-par or nl-ams (default SCW_DEFAULT_REGION, else fr-par)")
    .option("--project-id <id>", "Scaleway project (default SCW_DEFAULT_PROJECT_ID)")
    .option("--sqs-endpoint <url>", "use this SQS server instead of the Scaleway API (local servers): no activation, no credentials created")
    .option("--queue-prefix <prefix>", "queue and credential names: <prefix>-worker-<i>, -control, -dlq, -functions, -provision", d.queuePrefix)
    .option("--worker-queues <n>", "number of worker queues (each with its own trigger: 10 workers per queue)", integer("--worker-queues"), d.workerQueues)
    .option("--worker-timeout <seconds>", "the worker function's timeout (visibility timeout = this + 60 s)", integer("--worker-timeout"), d.workerTimeoutSeconds)
    .option("--coordinator-timeout <seconds>", "the coordinator function's timeout (control queue visibility = this + 60 s)", integer("--coordinator-timeout"), d.coordinatorTimeoutSeconds)
    .option("--max-receive-count <n>", "receives before a message goes to the dead-letter queue", integer("--max-receive-count"), d.maxReceiveCount)
    .option("--retention-days <days>", "retention of the worker and control queues", integer("--retention-days"), d.retentionSeconds / DAY)
    .option("--dlq-retention-days <days>", "retention of the dead-letter queue", integer("--dlq-retention-days"), d.deadLetterRetentionSeconds / DAY)
    .option("--bucket <name>", "bucket to create with the lifecycle rule (repeatable): the destination", collect, [])
    .option("--state-bucket <name>", "state bucket, created too and exported as STATE_BUCKET (default: state under the destination bucket)")
    .option("--abort-multipart-days <days>", "abort incomplete multipart uploads after this many days", integer("--abort-multipart-days"), d.abortIncompleteMultipartDays)
    .option("--no-abort-multipart-rule", "do not add the lifecycle rule aborting incomplete multipart uploads (the runs still abort what they abandon)")
    .option("--hds", "the buckets are HDS-certified (health data): they must exist (created in the console), in fr-par; no lifecycle rule is added", false)
    .action(async (flags: ProvisionFlags) => {
      const e = loadProvisionEnv(process.env, flags.region);
      const deps = await provisionDeps(flags, e, process.env);
      const { provision } = await import("../../provision/provision.ts");
      const result = await provision(
        {
          queuePrefix: flags.queuePrefix,
          workerQueues: flags.workerQueues,
          workerTimeoutSeconds: flags.workerTimeout,
          coordinatorTimeoutSeconds: flags.coordinatorTimeout,
          maxReceiveCount: flags.maxReceiveCount,
          retentionSeconds: flags.retentionDays * DAY,
          deadLetterRetentionSeconds: flags.dlqRetentionDays * DAY,
          sqsRegion: e.sqsRegion,
          buckets: flags.bucket,
          stateBucket: flags.stateBucket,
          abortIncompleteMultipartDays: flags.abortMultipartDays,
          ...(flags.hds ? { hds: true, s3Region: loadS3Config(process.env).region } : {}),
          ...(flags.abortMultipartRule === false ? { abortMultipartRule: false } : {}),
        },
        deps,
      );
      // The one place a secret is printed: credentials created by this run, whose secret Scaleway shows once.
      process.stdout.write(formatProvisionReport(result));
    });
}
