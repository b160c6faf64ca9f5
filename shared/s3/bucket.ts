/**
 * A destination or state bucket exists, or is created: the one check used by
 * `migrate run` before anything is written and by `migrate provision`.
 * What retrying can not fix is a ConfigError (denied, never reachable); a
 * server that kept answering 5xx/429 past the client's retry budget is
 * unavailable for now, not misconfigured.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { S3Http } from "./signed-http.ts";
import { s3Commands } from "./sdk-send.ts";
import { ConfigError, MigrationError } from "../errors.ts";
import { describeError } from "../redact.ts";
import { answeredStatus } from "../retry.ts";

/** Through the SDK (`migrate provision`): HeadBucket, then CreateBucket when missing. */
export async function ensureBucket(s3: S3Client, bucket: string): Promise<"exists" | "created"> {
  const { HeadBucketCommand } = await s3Commands();
  const exists = await s3.send(new HeadBucketCommand({ Bucket: bucket })).then(
    () => true,
    (err) => missingOrThrow(bucket, err),
  );
  return exists ? "exists" : createBucket(s3, bucket);
}

/** True when the bucket exists, false when the endpoint says it does not (404); anything else throws as ensureBucket says. */
export async function bucketExists(http: S3Http, bucket: string): Promise<boolean> {
  return http.send("HEAD", bucket, "", {}).then(
    () => true,
    (err) => missingOrThrow(bucket, err),
  );
}

/** False for a HeadBucket that answered 404; every other failure thrown as the error it means. */
function missingOrThrow(bucket: string, err: unknown): false {
  const status = answeredStatus(err);
  if (status === 403) {
    throw new ConfigError(`access to bucket ${bucket} is denied (403): it belongs to another account, or S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY may not use it`);
  }
  if (status === undefined) throw new ConfigError(`bucket ${bucket} is not reachable at S3_ENDPOINT: ${describeError(err)}`);
  if (status !== 404) throw new MigrationError("destination-unavailable", `bucket ${bucket}: S3_ENDPOINT kept answering ${status} (throttled or unavailable); nothing was written, run again later: ${describeError(err)}`);
  return false;
}

/** Creates the bucket; one that exists already (a concurrent creation) is not an error. */
export async function createBucket(s3: S3Client, bucket: string): Promise<"exists" | "created"> {
  try {
    // No LocationConstraint: Scaleway takes the region from the endpoint; RGW refuses unknown ones.
    const { CreateBucketCommand } = await s3Commands();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return "created";
  } catch (err) {
    const name = (err as Error).name;
    if (name === "BucketAlreadyOwnedByYou" || name === "BucketAlreadyExists") return "exists";
    throw new MigrationError("destination-unreachable", `bucket ${bucket} does not exist and could not be created: ${describeError(err)}`);
  }
}
