/**
 * Before a deploy, with queue credentials at hand: every queue a trigger will
 * read exists, and hides a message longer than its consumer may run (a
 * visibility timeout at or under the function timeout delivers a message twice
 * while its first invocation still works on it).
 */
import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { DeployEnvCheck, DeployPlan } from "./deploy-env.ts";

export interface QueueToCheck {
  /** How the operator named it: `WORKER_QUEUE_URLS entry 2`, `CONTROL_QUEUE_URL`. */
  label: string;
  url: string;
  /** The timeout of the function its trigger calls, seconds. */
  consumerTimeoutSeconds: number;
  consumer: string;
}

export function queuesToCheck(workerUrls: string[], controlUrl: string | undefined, plan: DeployPlan): QueueToCheck[] {
  return [
    ...workerUrls.map((url, i) => ({ label: `WORKER_QUEUE_URLS entry ${i + 1}`, url, consumerTimeoutSeconds: plan.workerTimeoutSeconds, consumer: "worker" })),
    ...(controlUrl ? [{ label: "CONTROL_QUEUE_URL", url: controlUrl, consumerTimeoutSeconds: plan.coordinatorTimeoutSeconds, consumer: "coordinator" }] : []),
  ];
}

function errorName(err: unknown): string {
  const e = err as { name?: string; Code?: string; __type?: string };
  return String(e?.name ?? e?.Code ?? e?.__type ?? "");
}

export async function checkQueues(sqs: SQSClient, queues: QueueToCheck[]): Promise<DeployEnvCheck> {
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const q of queues) {
    const name = q.url.split("/").filter(Boolean).pop();
    try {
      const res = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: q.url, AttributeNames: ["VisibilityTimeout"] }));
      const visibility = Number(res.Attributes?.VisibilityTimeout);
      if (!Number.isFinite(visibility)) warnings.push(`${q.label} (${name}): the visibility timeout could not be read`);
      else if (visibility <= q.consumerTimeoutSeconds) {
        errors.push(`${q.label} (${name}): visibility timeout ${visibility} s does not exceed the ${q.consumer} timeout ${q.consumerTimeoutSeconds} s: a message would be delivered again while it is being processed; run migrate provision with --${q.consumer}-timeout ${q.consumerTimeoutSeconds}`);
      }
    } catch (err) {
      const n = errorName(err);
      if (/NonExistentQueue|QueueDoesNotExist/i.test(n)) errors.push(`${q.label} (${name}) does not exist: run migrate provision (with the same --queue-prefix and --worker-queues)`);
      else if (/AccessDenied|Forbidden|NotAuthorized|InvalidClientTokenId|SignatureDoesNotMatch/i.test(n)) warnings.push(`${q.label} (${name}): these queue credentials may not read queue attributes (${n}); existence and visibility timeout not checked`);
      else errors.push(`${q.label} (${name}) could not be checked: ${n || "error"} (is SQS_ENDPOINT reachable?)`);
    }
  }
  return { errors, warnings };
}
