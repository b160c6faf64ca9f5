import { inject } from "vitest";
import { randomBytes } from "node:crypto";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { createS3Http } from "../../shared/clients.ts";
import { createS3Client, createSqsClient } from "../../shared/sdk-clients.ts";
import { createBlobServiceClient } from "../../shared/azure-sdk-client.ts";
import type { AzureConfig, S3Config, SqsConfig } from "../../shared/config.ts";

export function azureConfig(): AzureConfig {
  return { kind: "connection-string", connectionString: inject("azurite").connectionString };
}

export function s3Config(): S3Config {
  const r = inject("rgw");
  return { endpoint: r.endpoint, region: r.region, accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey, forcePathStyle: true, maxSockets: 64 };
}

export function sqsConfig(): SqsConfig {
  const q = inject("sqs");
  return { endpoint: q.endpoint, region: q.region, accessKeyId: q.accessKeyId, secretAccessKey: q.secretAccessKey };
}

/** Environment variables for the CLI / loader, pointing at the suite's servers. */
export function serverEnv(): Record<string, string> {
  const r = inject("rgw");
  return {
    AZURE_STORAGE_CONNECTION_STRING: inject("azurite").connectionString,
    S3_ENDPOINT: r.endpoint,
    S3_REGION: r.region,
    S3_ACCESS_KEY_ID: r.accessKeyId,
    S3_SECRET_ACCESS_KEY: r.secretAccessKey,
    S3_FORCE_PATH_STYLE: "true",
  };
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`.toLowerCase();
}

export const clients = {
  blob: () => createBlobServiceClient(azureConfig(), undefined),
  s3: () => createS3Client(s3Config(), undefined),
  /** Signed requests for the hot writes, as the deployed sink uses them. */
  s3Http: () => createS3Http(s3Config(), undefined),
  sqs: () => createSqsClient(sqsConfig(), undefined),
};

export async function newContainer(prefix = "src") {
  const name = uniqueName(prefix);
  const container = clients.blob().getContainerClient(name);
  await container.create();
  return container;
}

export async function newBucket(prefix = "dst") {
  const name = uniqueName(prefix);
  await clients.s3().send(new CreateBucketCommand({ Bucket: name }));
  return name;
}
