import { BlobServiceClient, StorageSharedKeyCredential, AnonymousCredential, StorageRetryPolicyType } from "@azure/storage-blob";
import type { Pipeline, PipelinePolicy, PipelineResponse } from "@azure/core-rest-pipeline";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { createAdvancedClient, type Client as ScalewayClient } from "@scaleway/sdk-client";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { TokenCredential } from "@azure/identity";
import type { AzureConfig, S3Config, SqsConfig } from "./config.ts";
import { withRetry, type RetryPolicy } from "./retry.ts";
import { S3Http } from "./s3/signed-http.ts";
import { BlobHttp } from "./azure/blob-http.ts";

/*
 * Every client is built here, and each carries the one retry policy of
 * shared/retry.ts at its transport: a request that meets throttling, a server
 * error, a reset or a refused connection is tried again, with backoff and
 * jitter, until the policy's time budget is spent. The SDKs' own retries are
 * off, so the classifier decides everywhere. `retry` undefined means one try
 * (tests that look at raw answers, and seeding helpers).
 */

/** Azure Blob client with the retry policy as its pipeline's retry phase. */
export function createBlobServiceClient(config: AzureConfig, retry: RetryPolicy | undefined): BlobServiceClient {
  const client = buildBlobServiceClient(config);
  if (retry) {
    // The storage pipeline is built once per client and shared by the container and blob clients made from it.
    // (@azure/storage-blob keeps it on the client's protected service context; pinned version, covered by the contract tests.)
    const pipeline = (client as unknown as { storageClientContext?: { pipeline?: Pipeline } }).storageClientContext?.pipeline;
    if (!pipeline) throw new Error("the Azure storage pipeline could not be reached to set its retry policy");
    pipeline.removePolicy({ phase: "Retry" });
    pipeline.addPolicy(azureRetryPolicy(retry), { phase: "Retry" });
  }
  return client;
}

function buildBlobServiceClient(config: AzureConfig): BlobServiceClient {
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
    case "service-principal":
      return new BlobServiceClient(config.endpoint, createAzureCredential(config), { retryOptions, keepAliveOptions });
  }
}

/** An answer the pipeline returned (not threw) that the classifier calls retryable. */
class RetryableAnswer extends Error {
  constructor(readonly response: PipelineResponse) {
    super(`HTTP ${response.status}`);
  }
  get statusCode(): number {
    return this.response.status;
  }
  get code(): string | undefined {
    return this.response.headers.get("x-ms-error-code") ?? undefined;
  }
}

function azureRetryPolicy(policy: RetryPolicy): PipelinePolicy {
  return {
    name: "migrateRetryPolicy",
    async sendRequest(request, next) {
      try {
        return await withRetry(
          async () => {
            const response = await next(request);
            // Error answers are read whole by the pipeline (only 2xx bodies stream), so nothing is left to drain.
            if (response.status === 429 || response.status === 408 || response.status >= 500) throw new RetryableAnswer(response);
            return response;
          },
          { policy, signal: request.abortSignal as AbortSignal | undefined },
        );
      } catch (err) {
        // The last answer goes up as it came, so the SDK builds its usual error from it.
        if (err instanceof RetryableAnswer) return err.response;
        throw err;
      }
    },
  };
}

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
 * The Entra ID credential of a service principal. @azure/identity fetches and
 * caches the token and renews it before it expires, so a long run keeps going.
 * A custom authority host (sovereign cloud, local stand-in) is used as given:
 * instance discovery only knows Microsoft's public authorities.
 *
 * @azure/identity (with MSAL) is loaded on the first token request, not when
 * the function starts: deployments signing with a key or SAS never pay its
 * start-up cost.
 */
export function createAzureCredential(config: Extract<AzureConfig, { kind: "service-principal" }>): TokenCredential {
  let credential: Promise<TokenCredential> | undefined;
  const load = async (): Promise<TokenCredential> => {
    const { ClientCertificateCredential, ClientSecretCredential } = await import("@azure/identity");
    const options = config.authorityHost ? { authorityHost: config.authorityHost, disableInstanceDiscovery: true } : {};
    if (config.clientSecret) return new ClientSecretCredential(config.tenantId, config.clientId, config.clientSecret, options);
    if (config.certificatePem) return new ClientCertificateCredential(config.tenantId, config.clientId, { certificate: config.certificatePem }, options);
    return new ClientCertificateCredential(config.tenantId, config.clientId, { certificatePath: config.certificatePath! }, options);
  };
  return {
    getToken: async (scopes, options) => (await (credential ??= load())).getToken(scopes, options),
  };
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

/** Signed HTTP requests for the hot writes (PutObject, UploadPart), with the same endpoint, keys and retry policy as createS3Client. */
export function createS3Http(config: S3Config, retry: RetryPolicy | undefined): S3Http {
  return new S3Http(config, retry);
}

/** Get Blob of block-blob ranges as plain requests, with the SDK client's endpoint and credential and the same retry policy (undefined: an authentication it does not know). */
export function createBlobHttp(service: BlobServiceClient, retry: RetryPolicy | undefined): BlobHttp | undefined {
  return BlobHttp.of(service, retry);
}
