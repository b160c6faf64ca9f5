/**
 * HDS-certified buckets (French health-data hosting) on Scaleway: Paris only,
 * created in the console only, no lifecycle rules, no GLACIER class. The tool
 * therefore never creates such a bucket, never adds a lifecycle rule to it and
 * never writes GLACIER there; it checks what it can and refuses clearly.
 */
import { ConfigError } from "../errors.ts";
import { describeError } from "../redact.ts";
import type { AppConfig } from "../config.ts";
import { createS3Http } from "../clients.ts";

export const HDS_REGION = "fr-par";
export const HDS_FORBIDDEN_CLASSES = new Set(["GLACIER"]);

/** HDS buckets exist only in fr-par: S3_REGION must say so. */
export function requireHdsRegion(region: string): void {
  if (region !== HDS_REGION) throw new ConfigError(`--hds: HDS-certified buckets exist only in ${HDS_REGION}, and S3_REGION is ${region}`);
}

/** An HDS bucket is created in the Scaleway console: check it exists (`headBucket` asks), never create it. */
export async function requireExistingBucket(headBucket: () => Promise<unknown>, bucket: string): Promise<void> {
  try {
    await headBucket();
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) throw new ConfigError(`--hds: bucket ${bucket} does not exist; HDS-certified buckets are created in the Scaleway console (Object Storage, "HDS" option), not by this tool`);
    if (status === 403) throw new ConfigError(`--hds: access to bucket ${bucket} is denied: check S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY`);
    throw new ConfigError(`--hds: bucket ${bucket} is not reachable at S3_ENDPOINT: ${describeError(err)}`);
  }
}

/** A storage class an HDS bucket refuses. */
export function requireHdsClass(storageClass: string | undefined, where: string): void {
  if (storageClass && HDS_FORBIDDEN_CLASSES.has(storageClass)) throw new ConfigError(`--hds: ${where} is ${storageClass}, a class HDS-certified buckets do not offer`);
}

/** `migrate run --hds`, before anything is written: fr-par, and a destination bucket that already exists. */
export async function checkHdsDestination(config: AppConfig, bucket: string): Promise<void> {
  requireHdsRegion(config.s3.region);
  const http = createS3Http(config.s3, config.retry);
  try {
    await requireExistingBucket(() => http.send("HEAD", bucket, "", {}), bucket);
  } finally {
    http.destroy();
  }
}
