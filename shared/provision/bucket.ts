/**
 * The destination / state bucket: created if missing, with a lifecycle rule
 * that aborts incomplete multipart uploads (billed while open) after N days.
 * Other lifecycle rules on the bucket are kept. Idempotent.
 */
import { createHash } from "node:crypto";
import {
  GetBucketLifecycleConfigurationCommand,
  PutBucketLifecycleConfigurationCommand,
  type LifecycleRule,
  type S3Client,
} from "@aws-sdk/client-s3";
import { answeredStatus } from "../retry.ts";
import { ensureBucket } from "../s3/bucket.ts";
import type { ResourceAction } from "./queues.ts";

export const ABORT_MULTIPART_RULE_ID = "migrate-abort-incomplete-multipart";

export interface EnsuredBucket {
  name: string;
  bucket: ResourceAction;
  lifecycle: ResourceAction;
}

async function readRules(s3: S3Client, name: string): Promise<LifecycleRule[]> {
  try {
    return (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: name }))).Rules ?? [];
  } catch (err) {
    const e = err as { name?: string };
    if (e?.name === "NoSuchLifecycleConfiguration" || answeredStatus(err) === 404) return [];
    throw err;
  }
}

function abortRule(days: number): LifecycleRule {
  return {
    ID: ABORT_MULTIPART_RULE_ID,
    Status: "Enabled",
    Filter: { Prefix: "" },
    AbortIncompleteMultipartUpload: { DaysAfterInitiation: days },
  };
}

function isOurRuleAsWanted(rule: LifecycleRule | undefined, days: number): boolean {
  return (
    rule !== undefined &&
    rule.Status === "Enabled" &&
    rule.AbortIncompleteMultipartUpload?.DaysAfterInitiation === days &&
    (rule.Filter?.Prefix ?? rule.Prefix ?? "") === "" &&
    rule.Filter?.Tag === undefined &&
    rule.Filter?.And === undefined
  );
}

/**
 * PutBucketLifecycleConfiguration requires an integrity header. With checksums
 * WHEN_REQUIRED the SDK sends x-amz-checksum-crc32; Ceph RGW accepts it, but
 * whether Scaleway does is unverified, while Content-MD5 is what every S3
 * server accepts for this call: send Content-MD5 of the body instead.
 */
function withContentMd5(command: PutBucketLifecycleConfigurationCommand): PutBucketLifecycleConfigurationCommand {
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { body?: unknown; headers?: Record<string, string> };
      if (typeof request.body === "string" || request.body instanceof Uint8Array) {
        request.headers = request.headers ?? {};
        for (const h of Object.keys(request.headers)) if (/^x-amz-checksum-|^x-amz-sdk-checksum-algorithm$/i.test(h)) delete request.headers[h];
        request.headers["content-md5"] = createHash("md5").update(request.body).digest("base64");
      }
      return next(args);
    },
    // After the SDK's checksum step (build, normal priority), before signing (finalizeRequest).
    { step: "build", name: "migrateContentMd5", priority: "low" },
  );
  return command;
}

/** Replaces the bucket's lifecycle configuration with `rules`. */
export async function putLifecycleRules(s3: S3Client, bucket: string, rules: LifecycleRule[]): Promise<void> {
  await s3.send(withContentMd5(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules } })));
}

export async function ensureProvisionedBucket(s3: S3Client, name: string, abortIncompleteMultipartDays: number, options: { lifecycleRule?: boolean } = {}): Promise<EnsuredBucket> {
  const bucket: ResourceAction = (await ensureBucket(s3, name)) === "created" ? "created" : "unchanged";
  if (options.lifecycleRule === false) return { name, bucket, lifecycle: "unchanged" };
  const rules = await readRules(s3, name);
  const ours = rules.find((r) => r.ID === ABORT_MULTIPART_RULE_ID);
  if (isOurRuleAsWanted(ours, abortIncompleteMultipartDays)) return { name, bucket, lifecycle: "unchanged" };
  await putLifecycleRules(s3, name, [...rules.filter((r) => r.ID !== ABORT_MULTIPART_RULE_ID), abortRule(abortIncompleteMultipartDays)]);
  return { name, bucket, lifecycle: ours ? "updated" : "created" };
}
