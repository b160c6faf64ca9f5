/**
 * Queues through the SQS API (Scaleway Queues, fauxqs in tests): create a queue
 * with the given attributes, or bring an existing one to them. Idempotent.
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
  type QueueAttributeName,
  type SQSClient,
} from "@aws-sdk/client-sqs";

export type ResourceAction = "created" | "updated" | "unchanged";

/** Attributes provisioning manages; every other attribute is left as it is. */
export interface QueueSpec {
  name: string;
  /** Seconds a received message stays hidden: above the consuming function's timeout. */
  visibilityTimeout: number;
  /** Seconds a message is kept (Scaleway: 60 s by default, up to 14 days). */
  messageRetentionPeriod: number;
  /** Dead-letter queue after this many receives. */
  redrive?: { deadLetterTargetArn: string; maxReceiveCount: number };
}

export interface EnsuredQueue {
  name: string;
  url: string;
  arn: string;
  action: ResourceAction;
  /** Attribute names changed on an existing queue. */
  changed: string[];
}


function desiredAttributes(spec: QueueSpec): Record<string, string> {
  const attrs: Record<string, string> = {
    VisibilityTimeout: String(spec.visibilityTimeout),
    MessageRetentionPeriod: String(spec.messageRetentionPeriod),
  };
  if (spec.redrive) {
    attrs.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: spec.redrive.deadLetterTargetArn, maxReceiveCount: spec.redrive.maxReceiveCount });
  }
  return attrs;
}

/** Servers format the redrive policy differently (numbers as strings, key order): compare its meaning. */
function sameRedrive(actual: string | undefined, desired: string): boolean {
  if (!actual) return false;
  try {
    const a = JSON.parse(actual) as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
    const d = JSON.parse(desired) as { deadLetterTargetArn: string; maxReceiveCount: number };
    return a.deadLetterTargetArn === d.deadLetterTargetArn && Number(a.maxReceiveCount) === d.maxReceiveCount;
  } catch {
    return false;
  }
}

function isMissingQueue(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return (
    e?.name === "QueueDoesNotExist" ||
    e?.name === "AWS.SimpleQueueService.NonExistentQueue" ||
    e?.Code === "AWS.SimpleQueueService.NonExistentQueue" ||
    /NonExistentQueue|QueueDoesNotExist/.test(String(e?.name ?? ""))
  );
}

async function findQueueUrl(sqs: SQSClient, name: string): Promise<string | undefined> {
  try {
    return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (err) {
    if (isMissingQueue(err)) return undefined;
    throw err;
  }
}

async function readAttributes(sqs: SQSClient, url: string): Promise<Record<string, string>> {
  const names: QueueAttributeName[] = ["QueueArn", "VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy"];
  return (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: names }))).Attributes ?? {};
}

/** Creates the queue, or sets the attributes that differ on the existing one. */
export async function ensureQueue(sqs: SQSClient, spec: QueueSpec): Promise<EnsuredQueue> {
  const desired = desiredAttributes(spec);
  const existing = await findQueueUrl(sqs, spec.name);
  if (!existing) {
    const created = await sqs.send(new CreateQueueCommand({ QueueName: spec.name, Attributes: desired }));
    const url = created.QueueUrl!;
    const attrs = await readAttributes(sqs, url);
    return { name: spec.name, url, arn: attrs.QueueArn ?? "", action: "created", changed: [] };
  }
  const actual = await readAttributes(sqs, existing);
  const changes: Record<string, string> = {};
  for (const [key, value] of Object.entries(desired)) {
    const same = key === "RedrivePolicy" ? sameRedrive(actual[key], value) : actual[key] === value;
    if (!same) changes[key] = value;
  }
  const changed = Object.keys(changes);
  if (changed.length > 0) await sqs.send(new SetQueueAttributesCommand({ QueueUrl: existing, Attributes: changes }));
  return { name: spec.name, url: existing, arn: actual.QueueArn ?? "", action: changed.length > 0 ? "updated" : "unchanged", changed };
}
