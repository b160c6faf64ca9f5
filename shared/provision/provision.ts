/**
 * One-time, idempotent provisioning before `serverless deploy`:
 *   Scaleway Queues activated, queue credentials (functions: publish + receive;
 *   provisioning: manage), worker queues, control queue and dead-letter queue
 *   with long retention, a visibility timeout above the consuming function's
 *   timeout and a redrive policy, then the destination / state bucket(s) with a
 *   lifecycle rule aborting incomplete multipart uploads.
 * A second run with the same options changes nothing and says so.
 */
import { HeadBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { SqsConfig } from "../config.ts";
import { ConfigError } from "../errors.ts";
import { registerSecret } from "../redact.ts";
import { ensureProvisionedBucket } from "./bucket.ts";
import { requireExistingBucket, requireHdsRegion } from "./hds.ts";
import { ensureQueue, type EnsuredQueue } from "./queues.ts";
import type { ScalewayQueuesApi } from "./scaleway-queues.ts";
import { type ProvisionOptions, VISIBILITY_MARGIN_SECONDS, queueNames, credentialNames, validateProvisionOptions } from "./options.ts";
import { type SqsCredentials, whileCredentialPropagates, ensureQueueCredentials } from "./credentials.ts";
import { type ProvisionStep, type ExportLine, type ProvisionResult } from "./report.ts";

export interface ProvisionDeps {
  /** Scaleway Queues control plane. Absent when queues live elsewhere (local SQS server): then sqsEndpoint and adminCredentials are required. */
  scaleway?: ScalewayQueuesApi;
  /** SQS endpoint; default the one Scaleway reports for the project. */
  sqsEndpoint?: string;
  /** Credential with manage permission for the SQS calls, when this run does not create it. */
  adminCredentials?: SqsCredentials;
  createSqsClient: (config: SqsConfig) => SQSClient;
  /** Needed when options.buckets is not empty. */
  s3?: S3Client;
  /** Waits between attempts while a new credential propagates. */
  sleep?: (ms: number) => Promise<void>;
}

export async function provision(options: ProvisionOptions, deps: ProvisionDeps): Promise<ProvisionResult> {
  validateProvisionOptions(options);
  const steps: ProvisionStep[] = [];
  const notes: string[] = [];
  const exports: ExportLine[] = [];
  const adminExports: ExportLine[] = [];
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const creds = credentialNames(options.queuePrefix);
  if (deps.adminCredentials) registerSecret(deps.adminCredentials.secretAccessKey);

  // 1. Queues service and credentials (Scaleway control plane).
  let endpoint = deps.sqsEndpoint;
  let admin = deps.adminCredentials;
  let adminIsNew = false;
  if (deps.scaleway) {
    const got = await ensureQueueCredentials(deps.scaleway, creds, admin, { steps, notes, exports, adminExports });
    endpoint = endpoint ?? got.endpoint;
    if (got.newAdmin) {
      admin = got.newAdmin;
      adminIsNew = true;
    }
  }
  if (!endpoint) throw new ConfigError("no SQS endpoint: give --sqs-endpoint, or provision through the Scaleway API (SCW_ACCESS_KEY, SCW_SECRET_KEY)");
  if (!admin) throw new ConfigError("no queue credential to create queues with: set SQS_ADMIN_ACCESS_KEY_ID and SQS_ADMIN_SECRET_ACCESS_KEY");

  // 2. Queues (SQS API): the dead-letter queue first, its ARN goes into the others' redrive policy.
  const sqs = deps.createSqsClient({ endpoint, region: options.sqsRegion, accessKeyId: admin.accessKeyId, secretAccessKey: admin.secretAccessKey });
  const names = queueNames(options.queuePrefix, options.workerQueues);
  const record = (q: EnsuredQueue) => {
    steps.push({ kind: "queue", name: q.name, action: q.action, detail: q.changed.length > 0 ? `set ${q.changed.join(", ")}` : undefined });
    return q;
  };
  const deadLetter = record(
    await whileCredentialPropagates(
      () => ensureQueue(sqs, { name: names.deadLetter, visibilityTimeout: VISIBILITY_MARGIN_SECONDS, messageRetentionPeriod: options.deadLetterRetentionSeconds }),
      adminIsNew,
      sleep,
    ),
  );
  if (!deadLetter.arn) throw new Error(`the SQS server gave no QueueArn for ${deadLetter.name}: can not set a redrive policy`);
  const redrive = { deadLetterTargetArn: deadLetter.arn, maxReceiveCount: options.maxReceiveCount };
  const control = record(
    await ensureQueue(sqs, {
      name: names.control,
      visibilityTimeout: options.coordinatorTimeoutSeconds + VISIBILITY_MARGIN_SECONDS,
      messageRetentionPeriod: options.retentionSeconds,
      redrive,
    }),
  );
  const workers: EnsuredQueue[] = [];
  for (const name of names.workers) {
    workers.push(
      record(
        await ensureQueue(sqs, {
          name,
          visibilityTimeout: options.workerTimeoutSeconds + VISIBILITY_MARGIN_SECONDS,
          messageRetentionPeriod: options.retentionSeconds,
          redrive,
        }),
      ),
    );
  }

  // 3. Buckets.
  const buckets = [...new Set([...options.buckets, ...(options.stateBucket ? [options.stateBucket] : [])])];
  if (buckets.length > 0 && !deps.s3) throw new ConfigError("S3 settings are needed to create buckets (S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_REGION)");
  if (options.hds && buckets.length > 0) requireHdsRegion(options.s3Region ?? "");
  for (const name of buckets) {
    if (options.hds) {
      await requireExistingBucket(() => deps.s3!.send(new HeadBucketCommand({ Bucket: name })), name);
      steps.push({ kind: "bucket", name, action: "unchanged", detail: "HDS: exists, not created by this tool" });
      steps.push({ kind: "lifecycle", name: `${name}: none (HDS buckets take no lifecycle rules; abort leftover multipart uploads with the runs themselves)`, action: "unchanged" });
      continue;
    }
    const withRule = options.abortMultipartRule !== false;
    const b = await ensureProvisionedBucket(deps.s3!, name, options.abortIncompleteMultipartDays, { lifecycleRule: withRule });
    steps.push({ kind: "bucket", name, action: b.bucket });
    steps.push(
      withRule
        ? { kind: "lifecycle", name: `${name}: abort incomplete multipart uploads after ${options.abortIncompleteMultipartDays} days`, action: b.lifecycle }
        : { kind: "lifecycle", name: `${name}: none added (--no-abort-multipart-rule; existing rules left as they are)`, action: "unchanged" },
    );
  }

  exports.unshift(
    { name: "SQS_ENDPOINT", value: endpoint },
    { name: "SQS_REGION", value: options.sqsRegion },
    { name: "QUEUE_PREFIX", value: options.queuePrefix },
    { name: "WORKER_QUEUE_COUNT", value: String(options.workerQueues) },
    { name: "WORKER_QUEUE_URLS", value: workers.map((w) => w.url).join(",") },
    { name: "CONTROL_QUEUE_URL", value: control.url },
    { name: "WORKER_TIMEOUT_SECONDS", value: String(options.workerTimeoutSeconds) },
    { name: "COORDINATOR_TIMEOUT_SECONDS", value: String(options.coordinatorTimeoutSeconds) },
    ...(options.stateBucket ? [{ name: "STATE_BUCKET", value: options.stateBucket }] : []),
  );

  const changed = steps.some((s) => s.action !== "unchanged" && s.action !== "reused");
  return { steps, changed, sqsEndpoint: endpoint, queues: { workers, control, deadLetter }, exports, adminExports, notes };
}
