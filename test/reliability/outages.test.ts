/**
 * Short outages ridden through without a rerun: the destination's S3 front end
 * (radosgw killed, down 10 s, back with its data) and the Azure source (Azurite
 * stopped, down 10 s, restarted on its data) in the middle of a multipart copy.
 * Each outage starts on observed progress (parts uploaded), never on a sleep.
 * These tests own their servers: the suite's shared ones stay up.
 */
import { describe, it, expect, afterAll } from "vitest";
import { inject } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { CreateBucketCommand, ListMultipartUploadsCommand, ListPartsCommand, type S3Client } from "@aws-sdk/client-s3";
import { createS3Client, createSqsClient } from "../../shared/sdk-clients.ts";
import { createBlobServiceClient } from "../../shared/azure-sdk-client.ts";
import { spawn } from "node:child_process";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { CreateQueueCommand } from "@aws-sdk/client-sqs";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { startAzurite, startFauxqs, startRgw, freePort, freePortPair, type RunningServer } from "../../shared/servers/launch.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { runCli } from "../support/cli.ts";
import { clients, newBucket, newContainer, serverEnv, uniqueName, s3Config } from "../support/env.ts";
import { azureThrough, MiB, md5, SMALL_PARTS, upload } from "./support.ts";
import type { RunReport } from "../../shared/state/layout.ts";

/** Resolves once an open upload of `bucket` has at least `parts` parts. */
async function partsUploaded(s3: S3Client, bucket: string, parts: number, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const open = (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
    for (const u of open) {
      const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }));
      if ((listed.Parts ?? []).length >= parts) return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no upload of ${bucket} reached ${parts} parts within ${timeoutMs} ms`);
}

async function destinationMd5(s3: S3Client, bucket: string, key: string): Promise<string> {
  const { GetObjectCommand } = await import("@aws-sdk/client-s3");
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return md5(Buffer.from(await r.Body!.transformToByteArray()));
}

const BIG = 60 * MiB + 77;

/** The outage run ended by itself: exit 0, both objects copied, the big one byte-exact, no upload open. */
async function finishedExact(res: { code: number | null; stdout: string; stderr: string }, s3: S3Client, bucket: string, big: Buffer): Promise<void> {
  const report = JSON.parse(res.stdout || "{}") as RunReport;
  expect(res.code, res.stderr.slice(-800)).toBe(0);
  expect(report.objects).toMatchObject({ planned: 2, copied: 2, failed: 0 });
  expect(await destinationMd5(s3, bucket, "big.bin")).toBe(md5(big));
  expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([]);
  s3.destroy();
}
// One part at a time, each slowed on the other side, so the copy is mid-way when the outage starts.
const SLOW_COPY = { ...SMALL_PARTS, PART_CONCURRENCY: "1", OBJECT_CONCURRENCY: "2" };

describe("short outages in the middle of a multipart copy", () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it("radosgw down for 10 s: exit 0 without a rerun, byte-exact, no open upload", { timeout: 240_000 }, async () => {
    const rgw = await startRgw();
    cleanup.push(() => rgw.stop());
    const s3 = createS3Client({ endpoint: rgw.endpoint, region: rgw.region, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, forcePathStyle: true, maxSockets: 8 }, undefined);
    const bucket = uniqueName("outage");
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const container = clients.blob().getContainerClient(uniqueName("outage"));
    await container.create();
    const big = randomBytes(BIG);
    await upload(container, "big.bin", big);
    await upload(container, "small.txt", "small");
    // Reads slowed at the source: about 250 ms a part.
    const slow: FaultProxy = await startFaultProxy({ target: new URL(inject("azurite").endpoint).origin, rules: [{ fault: { kind: "delay", ms: 250 }, methods: ["GET"] }], seed: 3, flavour: "azure" });
    cleanup.push(() => slow.stop());
    const env = {
      ...serverEnv(),
      ...azureThrough(serverEnv(), slow.endpoint),
      S3_ENDPOINT: rgw.endpoint,
      S3_ACCESS_KEY_ID: rgw.accessKeyId,
      S3_SECRET_ACCESS_KEY: rgw.secretAccessKey,
      ...SLOW_COPY,
    };
    const running = runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}`, "--json", "--run-id", "rgw-outage"], env, { timeoutMs: 220_000 });
    await partsUploaded(s3, bucket, 2);
    await rgw.bounce!(10);
    await finishedExact(await running, s3, bucket, big);
  });

  it("Azurite down for 10 s and restarted on its data: exit 0 without a rerun, byte-exact, no open upload", { timeout: 240_000 }, async () => {
    const location = mkdtempSync(join(tmpdir(), "azurite-data-"));
    cleanup.push(async () => rmSync(location, { recursive: true, force: true }));
    const port = await freePort();
    let azurite: RunningServer & { connectionString: string } = await startAzurite({ port, location });
    cleanup.push(() => azurite.stop());
    const container = createBlobServiceClient({ kind: "connection-string", connectionString: azurite.connectionString }, undefined).getContainerClient("outage");
    await container.create();
    const big = randomBytes(BIG);
    await upload(container, "big.bin", big);
    await upload(container, "small.txt", "small");
    const bucket = await newBucket("azure-outage");
    // Uploads slowed at the destination: about 250 ms a part.
    const slow = await startFaultProxy({ target: inject("rgw").endpoint, rules: [{ fault: { kind: "delay", ms: 250 }, methods: ["PUT"] }], seed: 4, flavour: "s3" });
    cleanup.push(() => slow.stop());
    const env = { ...serverEnv(), AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString, S3_ENDPOINT: slow.endpoint, ...SLOW_COPY };
    const running = runCli(["run", "--from", "azure://outage", "--to", `s3://${bucket}`, "--json", "--run-id", "azure-outage"], env, { timeoutMs: 220_000 });
    const s3 = createS3Client(s3Config(), undefined);
    await partsUploaded(s3, bucket, 2);
    await azurite.stop();
    await new Promise((r) => setTimeout(r, 10_000));
    azurite = await startAzurite({ port, location });
    await finishedExact(await running, s3, bucket, big);
  });

  it("the SQS endpoint down for 10 s under migrate serve: the run finishes by itself, exact", { timeout: 240_000 }, async () => {
    const sqsServer = await startFauxqs();
    cleanup.push(() => sqsServer.stop());
    const sqs = createSqsClient({ endpoint: sqsServer.endpoint, region: sqsServer.region, accessKeyId: sqsServer.accessKeyId, secretAccessKey: sqsServer.secretAccessKey }, undefined);
    const url = async (name: string) => (await sqs.send(new CreateQueueCommand({ QueueName: `${uniqueName("qo")}-${name}`, Attributes: { VisibilityTimeout: "20" } }))).QueueUrl!;
    const [control, w0, w1] = [await url("control"), await url("worker-0"), await url("worker-1")];
    const container = await newContainer("sqs-outage");
    const bodies = new Map<string, Buffer>();
    for (let i = 0; i < 30; i++) bodies.set(`in/${String(i).padStart(2, "0")}.bin`, randomBytes(1000 + i * 37));
    for (const [name, body] of bodies) await upload(container, name, body);
    const bucket = await newBucket("sqs-outage");
    // Uploads slowed at the destination, so the run is mid-way when the queue service goes down.
    const slow = await startFaultProxy({ target: inject("rgw").endpoint, rules: [{ fault: { kind: "delay", ms: 300 }, methods: ["PUT"], path: /\/in\// }], seed: 8, flavour: "s3" });
    cleanup.push(() => slow.stop());
    const env = {
      ...serverEnv(),
      S3_ENDPOINT: slow.endpoint,
      SQS_ENDPOINT: sqsServer.endpoint,
      SQS_REGION: sqsServer.region,
      SQS_ACCESS_KEY_ID: sqsServer.accessKeyId,
      SQS_SECRET_ACCESS_KEY: sqsServer.secretAccessKey,
      CONTROL_QUEUE_URL: control,
      WORKER_QUEUE_URLS: `${w0},${w1}`,
      STATE_BUCKET: bucket,
      OBJECT_CONCURRENCY: "1",
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
    };
    const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "migrate.js");
    const port = await freePortPair();
    const server = spawn(process.execPath, [bin, "serve", "--port", String(port)], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    server.stderr.on("data", (d) => (stderr += d));
    cleanup.push(async () => {
      const exited = new Promise((r) => server.once("exit", r));
      server.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (server.exitCode === null) server.kill("SIGKILL");
    });
    const start = await runCli(["start", "--via-queue", "--from", `azure://${container.containerName}/in`, "--to", `s3://${bucket}/out`, "--run-id", "sqs-outage", "--shard-objects", "3"], env);
    expect(start.code, start.stderr).toBe(0);
    const s3 = clients.s3();
    const copiedSoFar = async () => (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "out/" }))).KeyCount ?? 0;
    for (let until = Date.now() + 60_000; (await copiedSoFar()) < 4; ) {
      if (Date.now() > until) throw new Error(`the served run made no progress: ${stderr.slice(-600)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await copiedSoFar()).toBeLessThan(bodies.size);
    await sqsServer.bounce(10);
    const watch = await runCli(["status", "sqs-outage", "--watch", "--json"], env, { timeoutMs: 180_000 });
    expect(watch.code, watch.stderr + stderr.slice(-600)).toBe(0);
    expect(JSON.parse(watch.stdout)).toMatchObject({ state: "finished", objects: { planned: 30, copied: 30, failed: 0 } });
    for (const [name, body] of bodies) expect(await destinationMd5(s3, bucket, name.replace(/^in\//, "out/")), name).toBe(md5(body));
    sqs.destroy();
  });
});
