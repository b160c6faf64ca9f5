import { BlobServiceClient, StorageSharedKeyCredential, AnonymousCredential, StorageRetryPolicyType } from "@azure/storage-blob";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { createAdvancedClient, type Client as ScalewayClient } from "@scaleway/sdk-client";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { AzureConfig, S3Config, SqsConfig } from "./config.ts";

/**
 * Azure Blob client. Retries are ours (one classifier for every backend), so the
 * SDK's own retry policy is kept to a single try.
 */
export function createBlobServiceClient(config: AzureConfig): BlobServiceClient {
  const retryOptions = { maxTries: 1, retryPolicyType: StorageRetryPolicyType.EXPONENTIAL, tryTimeoutInMs: 120_000 };
  const keepAliveOptions = { enable: true };
  switch (config.kind) {
    case "connection-string":
      return BlobServiceClient.fromConnectionString(config.connectionString, { retryOptions, keepAliveOptions });
    case "shared-key":
      return new BlobServiceClient(config.endpoint, new StorageSharedKeyCredential(config.accountName, config.accountKey), {
        retryOptions,
        keepAliveOptions,
      });
    case "sas":
      return new BlobServiceClient(`${config.endpoint}?${config.sasToken}`, new AnonymousCredential(), { retryOptions, keepAliveOptions });
  }
}

/**
 * S3 client for Scaleway Object Storage (and Ceph RGW, s3rver in tests).
 * Checksums only WHEN_REQUIRED: the SDK's default CRC32 trailers with aws-chunked
 * bodies are refused by Scaleway and RGW and stored as data by s3rver. We send
 * Content-MD5 ourselves.
 */
export function createS3Client(config: S3Config): S3Client {
  const agentOptions = { keepAlive: true, maxSockets: config.maxSockets };
  return new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      connectionTimeout: 10_000,
      requestTimeout: 120_000,
    }),
  });
}

/** SQS client for Scaleway Queues (and fauxqs in tests). */
export function createSqsClient(config: SqsConfig): SQSClient {
  return new SQSClient({
    endpoint: config.endpoint,
    region: config.region,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    maxAttempts: 4,
  });
}

export interface ScalewayApiConfig {
  /** IAM secret key, sent as X-Auth-Token. */
  secretKey: string;
  projectId: string;
  region: string;
  /** Default https://api.scaleway.com. */
  apiUrl?: string;
  /** A fetch-compatible client; tests give one that answers from fixtures. */
  fetch?: typeof fetch;
}

/** Scaleway API client (`@scaleway/sdk`) for provisioning. The caller validates the key first: the SDK's own errors quote it. */
export function createScalewayClient(config: ScalewayApiConfig): ScalewayClient {
  return createAdvancedClient(
    (settings) => ({
      ...settings,
      ...(config.apiUrl ? { apiURL: config.apiUrl } : {}),
      ...(config.fetch ? { httpClient: config.fetch } : {}),
      defaultProjectId: config.projectId,
      defaultRegion: config.region as typeof settings.defaultRegion,
    }),
    // Authentication: the secret key in X-Auth-Token (what withProfile does, without its own validation of the key).
    (settings) => ({
      ...settings,
      interceptors: [
        {
          request: ({ request }: { request: Readonly<Request> }) => {
            const clone = request.clone();
            clone.headers.set("x-auth-token", config.secretKey);
            return clone;
          },
        },
        ...settings.interceptors,
      ],
    }),
  );
}
