/**
 * HDS destinations on Ceph RGW: `migrate provision --hds` and `migrate run --hds`
 * never create the bucket nor a lifecycle rule, require fr-par, and refuse
 * clearly; a destination with versioning keeps no run state (exit 2 unless
 * STATE_BUCKET is separate).
 */
import { describe, it, expect, beforeAll } from "vitest";
import { randomBytes } from "node:crypto";
import { GetBucketLifecycleConfigurationCommand, HeadBucketCommand, PutBucketVersioningCommand } from "@aws-sdk/client-s3";
import type { ContainerClient } from "@azure/storage-blob";
import { clients, newBucket, newContainer, serverEnv, sqsConfig, uniqueName } from "../support/env.ts";
import { runCli } from "../support/cli.ts";
import { getText, listKeys, upload } from "../reliability/support.ts";

const statusOf = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

async function lifecycleRules(bucket: string): Promise<number> {
  try {
    return (await clients.s3().send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules?.length ?? 0;
  } catch (err) {
    if ((err as Error).name === "NoSuchLifecycleConfiguration" || statusOf(err) === 404) return 0;
    throw err;
  }
}

async function bucketExists(bucket: string): Promise<boolean> {
  try {
    await clients.s3().send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (err) {
    if (statusOf(err) === 404) return false;
    throw err;
  }
}

describe("HDS destinations", () => {
  let container: ContainerClient;
  beforeAll(async () => {
    container = await newContainer("hds");
    await upload(container, "patient/a.txt", randomBytes(2000));
    await upload(container, "patient/b.txt", randomBytes(3000));
  });

  const provisionEnv = () => {
    const q = sqsConfig();
    return { ...serverEnv(), SQS_ACCESS_KEY_ID: q.accessKeyId, SQS_SECRET_ACCESS_KEY: q.secretAccessKey, SQS_REGION: q.region };
  };
  const provision = (bucket: string, env: Record<string, string>) =>
    runCli(["provision", "--sqs-endpoint", sqsConfig().endpoint!, "--queue-prefix", uniqueName("hds"), "--worker-queues", "1", "--bucket", bucket, "--hds"], env);

  it("provision --hds checks the bucket exists, creates neither it nor a lifecycle rule, and needs fr-par", { timeout: 90_000 }, async () => {
    const missing = uniqueName("hdsmissing");
    const refused = await provision(missing, provisionEnv());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/bucket hdsmissing-\S+ does not exist; HDS-certified buckets are created in the Scaleway console/);
    expect(await bucketExists(missing)).toBe(false);

    const bucket = await newBucket("hds");
    const ok = await provision(bucket, provisionEnv());
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/HDS: exists, not created by this tool/);
    expect(await lifecycleRules(bucket)).toBe(0);

    const elsewhere = await provision(bucket, { ...provisionEnv(), S3_REGION: "nl-ams" });
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toMatch(/HDS-certified buckets exist only in fr-par, and S3_REGION is nl-ams/);
  });

  it("provision without --hds adds the abort-multipart rule unless --no-abort-multipart-rule, and reports either", { timeout: 90_000 }, async () => {
    const run = (bucket: string, extra: string[]) =>
      runCli(["provision", "--sqs-endpoint", sqsConfig().endpoint!, "--queue-prefix", uniqueName("hds"), "--worker-queues", "1", "--bucket", bucket, ...extra], provisionEnv());
    const withRule = uniqueName("rule");
    const a = await run(withRule, []);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/created\s+lifecycle\s+\S+: abort incomplete multipart uploads after 7 days/);
    expect(await lifecycleRules(withRule)).toBe(1);
    const without = uniqueName("norule");
    const b = await run(without, ["--no-abort-multipart-rule"]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/lifecycle\s+\S+: none added \(--no-abort-multipart-rule/);
    expect(await bucketExists(without)).toBe(true);
    expect(await lifecycleRules(without)).toBe(0);
  });

  it("run --hds copies into an existing bucket, never creates one, and needs fr-par", { timeout: 90_000 }, async () => {
    const args = (bucket: string) => ["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}/x`, "--hds", "--json"];
    const missing = uniqueName("hdsmissing");
    const refused = await runCli(args(missing), serverEnv());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/HDS-certified buckets are created in the Scaleway console/);
    expect(await bucketExists(missing)).toBe(false);

    const bucket = await newBucket("hds");
    const elsewhere = await runCli(args(bucket), { ...serverEnv(), S3_REGION: "nl-ams" });
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toMatch(/S3_REGION is nl-ams/);

    const ok = await runCli(args(bucket), serverEnv());
    expect(ok.code, ok.stderr.slice(-600)).toBe(0);
    expect(JSON.parse(ok.stdout).objects).toMatchObject({ planned: 2, copied: 2 });
    const record = JSON.parse(await getText(clients.s3(), bucket, `.migrate-state/runs/${JSON.parse(ok.stdout).runId}/run.json`));
    expect(record.request.options.hds).toBe(true);
    expect(await lifecycleRules(bucket)).toBe(0);
  });

  it("refuses to keep run state in a destination with versioning (exit 2), and runs with a separate STATE_BUCKET", { timeout: 90_000 }, async () => {
    const bucket = await newBucket("hdsver");
    await clients.s3().send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }));
    const args = ["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}`, "--json"];
    const refused = await runCli(args, serverEnv());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/has versioning: the run state can not live there .*set STATE_BUCKET to a separate bucket/);
    expect(await listKeys(clients.s3(), bucket)).toEqual([]);

    const state = await newBucket("hdsstate");
    const ok = await runCli(args, { ...serverEnv(), STATE_BUCKET: state });
    expect(ok.code, ok.stderr.slice(-600)).toBe(0);
    expect((await listKeys(clients.s3(), bucket)).sort()).toEqual(["patient/a.txt", "patient/b.txt"]);
    expect((await listKeys(clients.s3(), state, ".migrate-state/runs/")).length).toBeGreaterThan(0);
  });
});
