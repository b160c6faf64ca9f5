/**
 * `migrate run --queue sqs`: the run's messages through real SQS queues (given,
 * or made for the run and removed at its end), polled the way Scaleway's
 * trigger does. Loaded only when asked for, with the SQS SDK.
 */
import { CreateQueueCommand, DeleteQueueCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { AppConfig } from "../config.ts";
import { createSqsClient } from "../sdk-clients.ts";
import { ConfigError } from "../errors.ts";
import { QueuePoller, sqsDrained } from "./queue-poller.ts";
import { SqsMessageBus } from "../queue/sqs.ts";
import type { Transport } from "./transport.ts";

export async function sqsTransport(config: AppConfig, runId: string, workerQueues: number | undefined): Promise<Transport> {
  const q = config.queue;
  if (!q.sqs) throw new ConfigError("--queue sqs needs SQS_ENDPOINT, SQS_ACCESS_KEY_ID and SQS_SECRET_ACCESS_KEY");
  const sqs: SQSClient = createSqsClient(q.sqs, config.retry);
  let control = q.controlQueueUrl;
  let workers = q.workerQueueUrls;
  const created: string[] = [];
  if (!control || workers.length === 0) {
    // Queues of this run only, removed at the end.
    const base = `migrate-${runId}`.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 60);
    const make = async (name: string) => {
      const r = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: "120", MessageRetentionPeriod: "86400" } }));
      created.push(r.QueueUrl!);
      return r.QueueUrl!;
    };
    control = await make(`${base}-control`);
    workers = [];
    for (let i = 0; i < (workerQueues ?? 2); i++) workers.push(await make(`${base}-worker-${i}`));
  }
  const bus = new SqsMessageBus(async () => sqs, { control, workers });
  const pollers: QueuePoller[] = [];
  return {
    bus,
    attach: (h) => {
      pollers.push(new QueuePoller(sqs, control!, h.coordinator, { waitSeconds: 1 }));
      for (const w of workers) pollers.push(new QueuePoller(sqs, w, h.worker, { waitSeconds: 1 }));
      for (const p of pollers) p.start();
    },
    drained: () => sqsDrained(sqs, [control!, ...workers], pollers),
    deadLetters: () => [],
    close: async () => {
      await Promise.all(pollers.map((p) => p.stop()));
      for (const url of created) await sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => undefined);
      sqs.destroy();
    },
  };
}
