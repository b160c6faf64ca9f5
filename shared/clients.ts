import type { BlobServiceClient } from "@azure/storage-blob";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { TokenCredential } from "@azure/identity";
import type { AzureConfig, S3Config, SqsConfig } from "./config.ts";
import type { RetryPolicy } from "./retry.ts";
import { S3Http } from "./s3/signed-http.ts";
import { BlobHttp } from "./azure/blob-http.ts";

/*
 * The plain clients of a copy's requests (signed-http.ts, blob-http.ts), and
 * the SDK clients of shared/sdk-clients.ts loaded on first use: a run that
 * never needs an SDK never compiles one. Every client carries the one retry
 * policy of shared/retry.ts.
 */

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

/** The SDK's S3 client, built (and its package loaded) on first use, then the same one; `destroy` closes it if it was built. */
export interface LazyS3Client {
  (): Promise<S3Client>;
  destroy(): void;
}

/** The SDK's SQS client, built (and its package loaded) on first use, then the same one. */
export function lazySqsClient(config: SqsConfig, retry: RetryPolicy | undefined): () => Promise<SQSClient> {
  let client: Promise<SQSClient> | undefined;
  return () => (client ??= import("./sdk-clients.ts").then((sdk) => sdk.createSqsClient(config, retry)));
}

export function lazyS3Client(config: S3Config, retry: RetryPolicy | undefined): LazyS3Client {
  let client: Promise<S3Client> | undefined;
  const get = () => (client ??= import("./sdk-clients.ts").then((sdk) => sdk.createS3Client(config, retry)));
  return Object.assign(get, { destroy: () => void client?.then((c) => c.destroy(), () => undefined) });
}

/** Signed HTTP requests for the hot writes (PutObject, UploadPart), with the same endpoint, keys and retry policy as createS3Client. */
export function createS3Http(config: S3Config, retry: RetryPolicy | undefined): S3Http {
  return new S3Http(config, retry);
}

/** Get Blob of block-blob ranges as plain requests, with the SDK client's endpoint and credential and the same retry policy (undefined: an authentication it does not know). */
export function createBlobHttp(service: BlobServiceClient, retry: RetryPolicy | undefined): BlobHttp | undefined {
  return BlobHttp.of(service, retry);
}
