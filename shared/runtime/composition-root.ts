/** Builds the real dependencies from configuration: Azure source, Scaleway S3 sink and state, SQS bus. */
import type { AppConfig } from "../config.ts";
import { createBlobHttp, createS3Http, lazyBlobServiceClient, lazyS3Client, lazySqsClient } from "../clients.ts";
import { AzureBlobSource } from "../azure/blob-source.ts";
import { S3ObjectSink } from "../s3/object-sink.ts";
import { S3StateStore } from "../s3/state-store.ts";
import { SqsMessageBus } from "../queue/sqs.ts";
import { ByteBudget } from "../copy/memory-budget.ts";
import { PART_BUFFERS } from "../copy/buffer-pool.ts";
import { StateLayout } from "../state/layout.ts";
import { jsonLogger, type Logger } from "../logger.ts";
import type { MessageBus, StateStore } from "../ports.ts";
import type { Deps } from "./deps.ts";
import { ConfigError } from "../errors.ts";

function sourceOf(config: AppConfig): AzureBlobSource {
  return new AzureBlobSource(lazyBlobServiceClient(config.azure, config.retry), createBlobHttp(config.azure, config.retry));
}

export function buildDeps(config: AppConfig, overrides: { bus?: MessageBus; log?: Logger } = {}): Deps {
  const s3 = lazyS3Client(config.s3, config.retry);
  const stores = new Map<string, StateStore>();
  let bus = overrides.bus;
  if (!bus) {
    const { sqs, workerQueueUrls, controlQueueUrl } = config.queue;
    if (!sqs || workerQueueUrls.length === 0 || !controlQueueUrl) {
      throw new ConfigError("WORKER_QUEUE_URLS, CONTROL_QUEUE_URL, SQS_ACCESS_KEY_ID and SQS_SECRET_ACCESS_KEY must be set for deployed functions");
    }
    bus = new SqsMessageBus(lazySqsClient(sqs, config.retry), { control: controlQueueUrl, workers: workerQueueUrls });
  }
  // Part buffers are carved from one arena, reused: no page fault per part. The budget bounds what is in
  // use; two parts more of room keep whole small objects and parts freed out of order from fragmenting it
  // (pages of the arena are only resident once used).
  PART_BUFFERS.limit = config.tuning.memoryBudget + 2 * config.tuning.partSize;
  // One pool of plain signed connections for the hot data writes and the run state.
  const http = createS3Http(config.s3, config.retry);
  return {
    source: sourceOf(config),
    sink: new S3ObjectSink(s3, { sseCustomerKey: config.s3.sseCustomerKey, http }),
    state: (bucket) => {
      let s = stores.get(bucket);
      if (!s) stores.set(bucket, (s = new S3StateStore(s3, bucket, undefined, config.s3.encryptState ? config.s3.sseCustomerKey : undefined, http)));
      return s;
    },
    bus,
    log: overrides.log ?? jsonLogger(),
    memory: new ByteBudget(config.tuning.memoryBudget),
    tuning: config.tuning,
    layout: new StateLayout(config.statePrefix),
    stateBucket: config.stateBucket,
    s3Region: config.s3.region,
    functionTimeoutMs: config.functionTimeoutMs,
    deadlineMarginMs: config.deadlineMarginMs,
    leaseMs: config.functionTimeoutMs + config.deadlineMarginMs,
    startToken: config.startToken,
    now: () => Date.now(),
  };
}
