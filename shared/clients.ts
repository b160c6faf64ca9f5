import type { BlobServiceClient } from "@azure/storage-blob";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { AzureConfig, S3Config, SqsConfig } from "./config.ts";
import type { RetryPolicy } from "./retry.ts";
import { S3Http } from "./s3/signed-http.ts";
import { BlobHttp } from "./azure/blob-http.ts";

/*
 * The plain clients of a copy's requests (signed-http.ts, blob-http.ts), and
 * the SDK clients of shared/sdk-clients.ts and shared/azure-sdk-client.ts
 * loaded on first use: a run that never needs an SDK never compiles one.
 * Every client carries the one retry policy of shared/retry.ts.
 */

/** What `build` makes, made on the first call and the same one after; `made()` is it, or undefined before the first call. */
function onFirstUse<T>(build: () => Promise<T>): (() => Promise<T>) & { made: () => Promise<T> | undefined } {
  let made: Promise<T> | undefined;
  return Object.assign(() => (made ??= build()), { made: () => made });
}

/** The SDK's SQS client, built (and its package loaded) on first use. */
export function lazySqsClient(config: SqsConfig, retry: RetryPolicy | undefined): () => Promise<SQSClient> {
  return onFirstUse(() => import("./sdk-clients.ts").then((sdk) => sdk.createSqsClient(config, retry)));
}

/** The SDK's S3 client, built (and its package loaded) on first use; `destroy` closes it if it was built. */
export interface LazyS3Client {
  (): Promise<S3Client>;
  destroy(): void;
}

export function lazyS3Client(config: S3Config, retry: RetryPolicy | undefined): LazyS3Client {
  const get = onFirstUse(() => import("./sdk-clients.ts").then((sdk) => sdk.createS3Client(config, retry)));
  return Object.assign(() => get(), { destroy: () => void get.made()?.then((c) => c.destroy(), () => undefined) });
}

/** Plain signed requests for every request of a copy and the run state's single objects, with the same endpoint, keys and retry policy as createS3Client. */
export function createS3Http(config: S3Config, retry: RetryPolicy | undefined): S3Http {
  return new S3Http(config, retry);
}

/** List Blobs and Get Blob of block-blob ranges as plain requests, with the source's endpoint and authentication and the retry policy (undefined: a connection string it does not read). */
export function createBlobHttp(config: AzureConfig, retry: RetryPolicy | undefined): BlobHttp | undefined {
  return BlobHttp.fromConfig(config, retry);
}

/** The Azure SDK's client, built (and its package loaded) on first use, then the same one. */
export function lazyBlobServiceClient(config: AzureConfig, retry: RetryPolicy | undefined): () => Promise<BlobServiceClient> {
  return onFirstUse(() => import("./azure-sdk-client.ts").then((sdk) => sdk.createBlobServiceClient(config, retry)));
}
