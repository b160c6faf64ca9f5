/**
 * The Azure Blob SDK client (@azure/storage-blob), with the one retry policy of
 * shared/retry.ts as its pipeline's retry phase. The source's listings and
 * range reads are plain requests (azure/blob-http.ts); the SDK serves Get Blob
 * Properties, tags, page blobs and the run's source check.
 */
import { BlobServiceClient, StorageSharedKeyCredential, AnonymousCredential, StorageRetryPolicyType } from "@azure/storage-blob";
import type { Pipeline, PipelinePolicy, PipelineResponse } from "@azure/core-rest-pipeline";
import type { AzureConfig } from "./config.ts";
import { withRetry, type RetryPolicy } from "./retry.ts";
import { createAzureCredential } from "./azure/credential.ts";

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
