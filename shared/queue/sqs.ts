/** Scaleway Queues (SQS API) as the message bus. */
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { MessageBus, QueueTarget } from "../ports.ts";
import { QUEUE_LIMITS } from "../limits.ts";
import { MigrationError } from "../errors.ts";

export class SqsMessageBus implements MessageBus {
  constructor(
    /** The SDK's client, built (and its package loaded) on the first send. */
    private readonly sqs: () => Promise<SQSClient>,
    private readonly urls: { control?: string; workers: string[] },
  ) {}

  get workerQueues(): number {
    return this.urls.workers.length;
  }

  private urlOf(target: QueueTarget): string {
    const url = target.kind === "control" ? this.urls.control : this.urls.workers[target.index % Math.max(1, this.urls.workers.length)];
    if (!url) throw new MigrationError("config", target.kind === "control" ? "CONTROL_QUEUE_URL is not set" : "WORKER_QUEUE_URLS is empty");
    return url;
  }

  async send(target: QueueTarget, bodies: string[]): Promise<void> {
    const url = this.urlOf(target);
    const [sqs, { SendMessageBatchCommand }] = await Promise.all([this.sqs(), import("./sdk-commands.ts")]);
    for (let i = 0; i < bodies.length; i += QUEUE_LIMITS.sendBatchSize) {
      let batch = bodies.slice(i, i + QUEUE_LIMITS.sendBatchSize).map((body, j) => ({ Id: `m${j}`, MessageBody: body }));
      for (let attempt = 0; batch.length > 0; attempt++) {
        const res = await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: batch }));
        const failed = new Set((res.Failed ?? []).map((f) => f.Id));
        batch = batch.filter((e) => failed.has(e.Id));
        if (batch.length > 0 && attempt >= 5) {
          throw new MigrationError("queue-send", `could not send ${batch.length} message(s) to the ${target.kind} queue`);
        }
        if (batch.length > 0) await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }
}
