/**
 * One contract for the message transports with their triggers: the in-process
 * bus of `migrate run`, and SQS (fauxqs) polled by the local trigger stand-in.
 * The same cases on both: delivery to the right queue, redelivery after a
 * failed invocation, dead letter after the last attempt.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { MessageBus, QueueTarget } from "../../shared/ports.ts";
import type { FunctionHandler } from "../../shared/runtime/http.ts";
import { json } from "../../shared/runtime/http.ts";
import { InProcessBus } from "../../shared/local/in-process-bus.ts";
import { QueuePoller, sqsDrained } from "../../shared/local/queue-poller.ts";
import { SqsMessageBus } from "../../shared/queue/sqs.ts";
import { clients, uniqueName } from "../support/env.ts";

/** How many deliveries a message gets before it is dead-lettered, on both transports. */
const ATTEMPTS = 2;

interface BusFixture {
  bus: MessageBus;
  attach(handlers: { coordinator: FunctionHandler; worker: FunctionHandler }): void;
  /** Resolves once nothing is queued or in flight. */
  drained(): Promise<void>;
  /** Bodies in the dead-letter queue(s). */
  deadLetters(): Promise<string[]>;
  close(): Promise<void>;
}

/** A handler that records each delivery and answers with `status(body, attempt)`. */
function recorder(status: (body: string, attempt: number) => number) {
  const seen: string[] = [];
  const handler: FunctionHandler = async (event) => {
    seen.push(event.body);
    const attempt = seen.filter((b) => b === event.body).length;
    return json(status(event.body, attempt), {});
  };
  return { seen, handler };
}

const sorted = (xs: string[]) => [...xs].sort();

function messageBusContract(label: string, make: () => Promise<BusFixture>) {
  describe(`MessageBus contract: ${label}`, () => {
    let f: BusFixture;
    const control = recorder((body, attempt) => (body.includes("flaky") && attempt === 1 ? 500 : body.includes("poison") ? 500 : 200));
    const worker = recorder((body, attempt) => (body.includes("flaky") && attempt === 1 ? 500 : body.includes("poison") ? 500 : 200));
    beforeAll(async () => {
      f = await make();
      f.attach({ coordinator: control.handler, worker: worker.handler });
    });
    afterAll(async () => {
      await f?.close();
    });

    it("delivers each message once to the handler of its queue", async () => {
      // Act
      const toWorker = Array.from({ length: 12 }, (_, i) => JSON.stringify({ case: "deliver", i }));
      await f.bus.send({ kind: "control" }, ['{"case":"deliver","to":"control"}']);
      await f.bus.send({ kind: "worker", index: 1 } satisfies QueueTarget, toWorker);
      await f.drained();
      // Assess
      expect(control.seen.filter((b) => b.includes('"deliver"'))).toEqual(['{"case":"deliver","to":"control"}']);
      expect(sorted(worker.seen.filter((b) => b.includes('"deliver"')))).toEqual(sorted(toWorker));
    });

    it("delivers again a message whose invocation failed", async () => {
      await f.bus.send({ kind: "worker", index: 0 }, ['{"case":"flaky"}']);
      await f.drained();
      expect(worker.seen.filter((b) => b === '{"case":"flaky"}')).toHaveLength(2);
      expect(await f.deadLetters()).not.toContain('{"case":"flaky"}');
    });

    it(`dead-letters a message after ${ATTEMPTS} failed deliveries, and delivers it no more`, async () => {
      await f.bus.send({ kind: "worker", index: 0 }, ['{"case":"poison"}']);
      await f.drained();
      expect(await f.deadLetters()).toEqual(['{"case":"poison"}']);
      expect(worker.seen.filter((b) => b === '{"case":"poison"}')).toHaveLength(ATTEMPTS);
    });
  });
}

messageBusContract("in-process", async () => {
  const bus = new InProcessBus({ workerQueues: 2, retries: ATTEMPTS - 1 });
  return {
    bus,
    attach: (h) => bus.attach(h),
    drained: () => bus.drained(),
    deadLetters: async () => bus.deadLetters.map((d) => d.body),
    close: async () => bus.stop(),
  };
});

messageBusContract("SQS on fauxqs, with the local trigger", async () => {
  const sqs: SQSClient = clients.sqs();
  const base = uniqueName("bus");
  const make = async (name: string, attributes: Record<string, string> = {}) =>
    (await sqs.send(new CreateQueueCommand({ QueueName: `${base}-${name}`, Attributes: { VisibilityTimeout: "1", ...attributes } }))).QueueUrl!;
  const dlq = await make("dlq");
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  const redrive = { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: ATTEMPTS }) };
  const urls = { control: await make("control", redrive), workers: [await make("worker-0", redrive), await make("worker-1", redrive)] };
  const bus = new SqsMessageBus(async () => sqs, urls);
  const pollers: QueuePoller[] = [];
  const dead: string[] = [];
  return {
    bus,
    attach: (h) => {
      // No in-process retries: a failed invocation leaves the message to the queue (visibility timeout, then redrive).
      pollers.push(new QueuePoller(sqs, urls.control, h.coordinator, { retries: 0, waitSeconds: 1 }));
      for (const w of urls.workers) pollers.push(new QueuePoller(sqs, w, h.worker, { retries: 0, waitSeconds: 1 }));
      for (const p of pollers) p.start();
    },
    drained: () => sqsDrained(sqs, [urls.control, ...urls.workers], pollers, 500),
    deadLetters: async () => {
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 0 }));
      for (const m of got.Messages ?? []) if (!dead.includes(m.Body ?? "")) dead.push(m.Body ?? "");
      return [...dead];
    },
    close: async () => {
      await Promise.all(pollers.map((p) => p.stop()));
      for (const url of [urls.control, ...urls.workers, dlq]) await sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => undefined);
      sqs.destroy();
    },
  };
});
