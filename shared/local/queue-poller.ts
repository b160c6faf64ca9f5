/**
 * The local stand-in of Scaleway's queue trigger (`migrate run --queue sqs`,
 * `migrate serve`): polls a queue and invokes a handler the way the trigger does.
 */
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { createHash } from "node:crypto";
import { QUEUE_LIMITS } from "../limits.ts";
import { queueEvent, type FunctionHandler } from "../runtime/http.ts";

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

/**
 * Resolves once the queues are empty (none visible, none in flight) and no
 * poller is busy, twice in a row: SQS counts are approximate.
 */
export async function sqsDrained(sqs: SQSClient, urls: string[], pollers: QueuePoller[], intervalMs = 300): Promise<void> {
  const depth = async (url: string) => {
    const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }));
    return Number(a.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  };
  for (let quiet = 0; quiet < 2; ) {
    await new Promise((r) => setTimeout(r, intervalMs));
    const busy = pollers.some((p) => p.busy);
    const depths = await Promise.all(urls.map(depth));
    quiet = !busy && depths.every((d) => d === 0) ? quiet + 1 : 0;
  }
}
