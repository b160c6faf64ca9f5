/**
 * One-time, idempotent provisioning before `serverless deploy`:
 *   Scaleway Queues activated, queue credentials (functions: publish + receive;
 *   provisioning: manage), worker queues, control queue and dead-letter queue
 *   with long retention, a visibility timeout above the consuming function's
 *   timeout and a redrive policy, then the destination / state bucket(s) with a
 *   lifecycle rule aborting incomplete multipart uploads.
 * A second run with the same options changes nothing and says so.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { SqsConfig } from "../config.ts";
import { ConfigError } from "../errors.ts";
import { registerSecret } from "../redact.ts";
import { ensureProvisionedBucket } from "./bucket.ts";
import { requireExistingBucket, requireHdsRegion } from "./hds.ts";
import { ensureQueue, QUEUE_LIMITS_SQS, type EnsuredQueue } from "./queues.ts";
import type { NewQueueCredential, QueueCredential, QueuePermissions, ScalewayQueuesApi } from "./scaleway-queues.ts";

export const DAY = 24 * 3600;

export interface ProvisionOptions {
  /** Queue names: <prefix>-worker-<i>, <prefix>-control, <prefix>-dlq; credentials <prefix>-functions, <prefix>-provision. */
  queuePrefix: string;
  workerQueues: number;
  /** Timeouts of the deployed functions, seconds: each queue hides a received message longer than its consumer may run. */
  workerTimeoutSeconds: number;
  coordinatorTimeoutSeconds: number;
  /** Receives before a message moves to the dead-letter queue. */
  maxReceiveCount: number;
  /** Retention of the worker and control queues, seconds (Scaleway's default is 60 s). */
  retentionSeconds: number;
  deadLetterRetentionSeconds: number;
  /** SQS region the requests are signed for. */
  sqsRegion: string;
  /** Buckets to create (destination, state), each with the abort-incomplete-multipart rule. */
  buckets: string[];
  /** Exported as STATE_BUCKET when set (it is also created). */
  stateBucket?: string;
  abortIncompleteMultipartDays: number;
  /**
   * HDS-certified buckets: they must already exist (created in the console), in
   * fr-par; no lifecycle rule is added to them. `s3Region` is checked then.
   */
  hds?: boolean;
  s3Region?: string;
  /** False: no abort-incomplete-multipart lifecycle rule (the runs still abort what they abandon). Default true. */
  abortMultipartRule?: boolean;
}

export const DEFAULT_PROVISION_OPTIONS = {
  queuePrefix: "migrate",
  workerQueues: 2,
  workerTimeoutSeconds: 900,
  coordinatorTimeoutSeconds: 900,
  maxReceiveCount: 5,
  retentionSeconds: 4 * DAY,
  deadLetterRetentionSeconds: 14 * DAY,
  sqsRegion: "fr-par",
  buckets: [] as string[],
  abortIncompleteMultipartDays: 7,
} satisfies ProvisionOptions;

/** Margin added to a function's timeout for the visibility timeout of the queue it consumes. */
export const VISIBILITY_MARGIN_SECONDS = 60;

export interface SqsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

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

export type StepAction = "created" | "updated" | "unchanged" | "reused" | "activated";

export interface ProvisionStep {
  kind: "queues" | "credential" | "queue" | "bucket" | "lifecycle";
  name: string;
  action: StepAction;
  detail?: string;
}

export interface ExportLine {
  name: string;
  value: string;
  /** Shown once, at creation: printed only then. */
  secret?: boolean;
}

export interface ProvisionResult {
  steps: ProvisionStep[];
  /** False when the run found everything in place. */
  changed: boolean;
  sqsEndpoint: string;
  queues: { workers: EnsuredQueue[]; control: EnsuredQueue; deadLetter: EnsuredQueue };
  /** Variables for the functions, to export before `serverless deploy`. */
  exports: ExportLine[];
  /** The provisioning credential, when created by this run: for re-running provision, never for the functions. */
  adminExports: ExportLine[];
  notes: string[];
}

const PREFIX = /^[a-z0-9][a-z0-9-]{0,40}$/;
const MAX_WORKER_QUEUES = 40;
const FUNCTIONS_PERMISSIONS: QueuePermissions = { canPublish: true, canReceive: true, canManage: false };
const PROVISION_PERMISSIONS: QueuePermissions = { canPublish: false, canReceive: false, canManage: true };

export const queueNames = (prefix: string, workers: number) => ({
  workers: Array.from({ length: workers }, (_, i) => `${prefix}-worker-${i}`),
  control: `${prefix}-control`,
  deadLetter: `${prefix}-dlq`,
});
export const credentialNames = (prefix: string) => ({ functions: `${prefix}-functions`, provision: `${prefix}-provision` });

function intIn(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got ${value})`);
}

export function validateProvisionOptions(o: ProvisionOptions): void {
  if (!PREFIX.test(o.queuePrefix)) throw new ConfigError(`--queue-prefix must be 1-41 lowercase letters, digits or '-', starting with a letter or digit`);
  intIn("--worker-queues", o.workerQueues, 1, MAX_WORKER_QUEUES);
  const maxTimeout = QUEUE_LIMITS_SQS.maxVisibilityTimeout - VISIBILITY_MARGIN_SECONDS;
  intIn("--worker-timeout", o.workerTimeoutSeconds, 10, Math.min(3600, maxTimeout));
  intIn("--coordinator-timeout", o.coordinatorTimeoutSeconds, 10, Math.min(3600, maxTimeout));
  intIn("--max-receive-count", o.maxReceiveCount, 1, QUEUE_LIMITS_SQS.maxReceiveCount);
  intIn("queue retention (seconds)", o.retentionSeconds, QUEUE_LIMITS_SQS.minRetention, QUEUE_LIMITS_SQS.maxRetention);
  intIn("dead-letter queue retention (seconds)", o.deadLetterRetentionSeconds, QUEUE_LIMITS_SQS.minRetention, QUEUE_LIMITS_SQS.maxRetention);
  intIn("--abort-multipart-days", o.abortIncompleteMultipartDays, 1, 365);
  for (const b of [...o.buckets, ...(o.stateBucket ? [o.stateBucket] : [])]) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(b)) throw new ConfigError(`"${b.slice(0, 70)}" is not a valid bucket name`);
  }
}

/** Retries `fn` while the SQS endpoint does not know a credential created seconds ago. */
async function whileCredentialPropagates<T>(fn: () => Promise<T>, enabled: boolean, sleep: (ms: number) => Promise<void>): Promise<T> {
  const attempts = enabled ? 10 : 1;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      const unauthorized = e?.$metadata?.httpStatusCode === 401 || e?.$metadata?.httpStatusCode === 403 || /InvalidClientTokenId|AccessDenied|SignatureDoesNotMatch|Unauthori/i.test(e?.name ?? "");
      if (!unauthorized || i >= attempts) throw err;
      await sleep(3000);
    }
  }
}

interface CredentialPlan {
  functions?: QueueCredential;
  provision?: QueueCredential;
}

/** What provisioning reports, filled in step by step. */
interface ProvisionLog {
  steps: ProvisionStep[];
  notes: string[];
  exports: ExportLine[];
  adminExports: ExportLine[];
}

/**
 * Queues activated for the project and its two queue credentials (functions:
 * publish + receive; provisioning: manage), created when missing. Everything
 * that can fail is decided before anything is changed. Returns the SQS
 * endpoint, and the provisioning credential when this run created it.
 */
async function ensureQueueCredentials(
  api: ScalewayQueuesApi,
  creds: ReturnType<typeof credentialNames>,
  admin: SqsCredentials | undefined,
  log: ProvisionLog,
): Promise<{ endpoint: string; newAdmin?: SqsCredentials }> {
  const { steps, notes, exports, adminExports } = log;
  let info = await api.getSqsInfo();
  const existing = info.status === "enabled" ? await api.listSqsCredentials() : [];
  const plan: CredentialPlan = {
    functions: existing.find((c) => c.name === creds.functions),
    provision: existing.find((c) => c.name === creds.provision),
  };
  if (plan.provision) {
    if (!admin) {
      throw new ConfigError(
        `queue credential "${creds.provision}" exists and its secret is shown only at creation: set SQS_ADMIN_ACCESS_KEY_ID and SQS_ADMIN_SECRET_ACCESS_KEY to the values printed when it was created, or delete that credential (console: Queues > Credentials) to have a new one created`,
      );
    }
    if (admin.accessKeyId !== plan.provision.accessKey) {
      throw new ConfigError(`SQS_ADMIN_ACCESS_KEY_ID is not the access key of queue credential "${creds.provision}"`);
    }
  }

  if (info.status !== "enabled") {
    info = await api.activateSqs();
    steps.push({ kind: "queues", name: `Queues (${info.region})`, action: "activated" });
  } else {
    steps.push({ kind: "queues", name: `Queues (${info.region})`, action: "unchanged", detail: "already active" });
  }

  const ensureCredential = async (name: string, found: QueueCredential | undefined, permissions: QueuePermissions): Promise<NewQueueCredential | undefined> => {
    if (found) {
      const p = found.permissions;
      const same = p.canPublish === permissions.canPublish && p.canReceive === permissions.canReceive && p.canManage === permissions.canManage;
      steps.push({ kind: "credential", name, action: "reused", detail: `access key ${found.accessKey}` });
      if (!same) notes.push(`queue credential "${name}" has permissions ${JSON.stringify(p)}; expected ${JSON.stringify(permissions)}: fix it in the console`);
      return undefined;
    }
    const created = await api.createSqsCredentials({ name, permissions });
    steps.push({ kind: "credential", name, action: "created", detail: `access key ${created.accessKey}` });
    return created;
  };

  const newFunctions = await ensureCredential(creds.functions, plan.functions, FUNCTIONS_PERMISSIONS);
  const newProvision = await ensureCredential(creds.provision, plan.provision, PROVISION_PERMISSIONS);
  if (newFunctions) {
    exports.push({ name: "SQS_ACCESS_KEY_ID", value: newFunctions.accessKey, secret: true });
    exports.push({ name: "SQS_SECRET_ACCESS_KEY", value: newFunctions.secretKey, secret: true });
  } else {
    notes.push(`SQS_ACCESS_KEY_ID / SQS_SECRET_ACCESS_KEY: use the values printed when queue credential "${creds.functions}" was created (a secret is shown once); to rotate, delete that credential and run provision again`);
  }
  if (!newProvision) return { endpoint: info.endpoint };
  adminExports.push({ name: "SQS_ADMIN_ACCESS_KEY_ID", value: newProvision.accessKey, secret: true });
  adminExports.push({ name: "SQS_ADMIN_SECRET_ACCESS_KEY", value: newProvision.secretKey, secret: true });
  return { endpoint: info.endpoint, newAdmin: { accessKeyId: newProvision.accessKey, secretAccessKey: newProvision.secretKey } };
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
      await requireExistingBucket(deps.s3!, name);
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

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:,@%+=-]*$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** What the operator reads: each step, then the exports. Secrets appear only for credentials created by this run. */
export function formatProvisionReport(result: ProvisionResult): string {
  const lines: string[] = [];
  const width = Math.max(...result.steps.map((s) => s.action.length));
  for (const s of result.steps) lines.push(`${s.action.padEnd(width)}  ${s.kind.padEnd(10)} ${s.name}${s.detail ? ` (${s.detail})` : ""}`);
  lines.push("");
  lines.push(result.changed ? "Provisioned." : "Nothing to change: everything was already in place.");
  for (const n of result.notes) lines.push(`note: ${n}`);
  lines.push("");
  lines.push("# Set these before `npm run deploy` (with the Azure and S3 variables of docs/deploy.md):");
  for (const e of result.exports) lines.push(`export ${e.name}=${shellQuote(e.value)}`);
  if (result.exports.some((e) => e.secret)) lines.push("# The queue secret above is shown only now: store it in your secret manager.");
  if (result.adminExports.length > 0) {
    lines.push("");
    lines.push("# Provisioning credential (manage queues): keep it to run provision again; never give it to the functions.");
    for (const e of result.adminExports) lines.push(`export ${e.name}=${shellQuote(e.value)}`);
  }
  return lines.join("\n") + "\n";
}
