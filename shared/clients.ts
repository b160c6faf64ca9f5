import { BlobServiceClient, StorageSharedKeyCredential, AnonymousCredential, StorageRetryPolicyType } from "@azure/storage-blob";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { TokenCredential } from "@azure/identity";
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
    case "service-principal":
      return new BlobServiceClient(config.endpoint, createAzureCredential(config), { retryOptions, keepAliveOptions });
  }
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
