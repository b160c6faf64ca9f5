/**
 * The SDK clients: S3 and SQS (@aws-sdk), the Scaleway API (@scaleway/sdk);
 * Azure Blob's is in azure-sdk-client.ts. A copy's own requests need none of them
 * (shared/clients.ts has its plain ones), so the runtime loads this module,
 * and the SDK packages with it, only when a request needs an SDK: compiling
 * them costs about 0.3 s of CPU at each start.
 *
 * Each client carries the one retry policy of shared/retry.ts at its
 * transport: a request that meets throttling, a server error, a reset or a
 * refused connection is tried again, with backoff and jitter, until the
 * policy's time budget is spent. The SDKs' own retries are off, so the
 * classifier decides everywhere. `retry` undefined means one try (tests that
 * look at raw answers, and seeding helpers).
 */
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { createAdvancedClient, type Client as ScalewayClient } from "@scaleway/sdk-client";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { S3Config, SqsConfig } from "./config.ts";
import { withRetry, type RetryPolicy } from "./retry.ts";

/** Bodies the transport can send again: a stream is read once, so its request is tried once here. */
function replayable(body: unknown): boolean {
  return body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array;
}

interface RetriedRequest {
  body?: unknown;
  constructor: { clone?: (r: unknown) => unknown };
}

/** The retry policy as a Smithy middleware, in place of the SDK's own retry step (S3 and SQS clients). */
function addRetryMiddleware(client: S3Client | SQSClient, policy: RetryPolicy): void {
  const stack = client.middlewareStack as unknown as {
    addRelativeTo(mw: unknown, options: { relation: "before"; toMiddleware: string; name: string }): void;
  };
  stack.addRelativeTo(
    (next: (args: { request: RetriedRequest }) => Promise<unknown>) => async (args: { request: RetriedRequest }) => {
      if (!replayable(args.request.body)) return next(args);
      const original = args.request;
      return withRetry(() => next({ ...args, request: (original.constructor.clone?.(original) ?? original) as RetriedRequest }), { policy });
    },
    { relation: "before", toMiddleware: "retryMiddleware", name: "migrateRetryMiddleware" },
  );
}

/**
 * S3 client for Scaleway Object Storage (and Ceph RGW, s3rver in tests).
 * Checksums only WHEN_REQUIRED: the SDK's default CRC32 trailers with aws-chunked
 * bodies are refused by Scaleway and RGW and stored as data by s3rver. We send
 * Content-MD5 ourselves.
 */
export function createS3Client(config: S3Config, retry: RetryPolicy | undefined): S3Client {
  const agentOptions = { keepAlive: true, maxSockets: config.maxSockets };
  const client = new S3Client({
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
  if (retry) addRetryMiddleware(client, retry);
  return client;
}

/** SQS client for Scaleway Queues (and fauxqs in tests). */
export function createSqsClient(config: SqsConfig, retry: RetryPolicy | undefined): SQSClient {
  const client = new SQSClient({
    endpoint: config.endpoint,
    region: config.region,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    maxAttempts: retry ? 1 : 4,
  });
  if (retry) addRetryMiddleware(client, retry);
  return client;
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
