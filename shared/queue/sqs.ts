/**
 * Scaleway Queues (SQS API) as the message bus, and a local trigger that polls a
 * queue and invokes a handler the way Scaleway's queue trigger does.
 */
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { createHash } from "node:crypto";
import type { MessageBus, QueueTarget } from "../ports.ts";
import { QUEUE_LIMITS } from "../limits.ts";
import { MigrationError } from "../errors.ts";
import { queueEvent, type FunctionHandler } from "./in-process.ts";

export class SqsMessageBus implements MessageBus {
  constructor(
    private readonly sqs: SQSClient,
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
    for (let i = 0; i < bodies.length; i += QUEUE_LIMITS.sendBatchSize) {
      let batch = bodies.slice(i, i + QUEUE_LIMITS.sendBatchSize).map((body, j) => ({ Id: `m${j}`, MessageBody: body }));
      for (let attempt = 0; batch.length > 0; attempt++) {
        const res = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: batch }));
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

/**
 * Polls one queue and POSTs each message to the handler, at most `maxInFlight`
 * at once, retrying a failed invocation `retries` times; a message whose
 * invocations all failed is left to the queue (visibility timeout, then the
 * dead-letter redrive).
 */
export class QueuePoller {
  private running = false;
  private inFlight = 0;
  private loop?: Promise<void>;
  private readonly seen = new Map<string, number>();
  handled = 0;

  constructor(
    private readonly sqs: SQSClient,
    private readonly url: string,
    private readonly handler: FunctionHandler,
    private readonly options: { maxInFlight?: number; retries?: number; waitSeconds?: number } = {},
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.poll();
  }

  get busy(): boolean {
    return this.inFlight > 0;
  }

  private async poll(): Promise<void> {
    const max = this.options.maxInFlight ?? QUEUE_LIMITS.maxInFlightPerTrigger;
    while (this.running) {
      const room = max - this.inFlight;
      if (room <= 0) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      let res;
      try {
        res = await this.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: this.url, MaxNumberOfMessages: Math.min(10, room), WaitTimeSeconds: this.options.waitSeconds ?? 1 }),
        );
      } catch {
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      for (const m of res.Messages ?? []) {
        this.inFlight++;
        void this.deliver(m.Body ?? "", m.ReceiptHandle!).finally(() => this.inFlight--);
      }
    }
  }

  private async deliver(body: string, receipt: string): Promise<void> {
    const retries = this.options.retries ?? QUEUE_LIMITS.triggerRetries;
    const id = createHash("sha1").update(body).digest("hex");
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        const res = await this.handler(queueEvent(body), { queue: this.url });
        if (res.statusCode < 300) {
          this.handled++;
          await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.url, ReceiptHandle: receipt })).catch(() => undefined);
          this.seen.delete(id);
          return;
        }
      } catch {
        /* counted as a failed invocation */
      }
    }
    this.seen.set(id, (this.seen.get(id) ?? 0) + 1);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 20));
  }
}
