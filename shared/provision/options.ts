/** The options of `migrate provision`: defaults, validation, and the names of what it creates. */
import { ConfigError } from "../errors.ts";
import { QUEUE_LIMITS_SQS } from "../limits.ts";

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

export const PREFIX = /^[a-z0-9][a-z0-9-]{0,40}$/;

export const MAX_WORKER_QUEUES = 40;

export const queueNames = (prefix: string, workers: number) => ({
  workers: Array.from({ length: workers }, (_, i) => `${prefix}-worker-${i}`),
  control: `${prefix}-control`,
  deadLetter: `${prefix}-dlq`,
});

export const credentialNames = (prefix: string) => ({ functions: `${prefix}-functions`, provision: `${prefix}-provision` });

export function intIn(name: string, value: number, min: number, max: number): void {
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
