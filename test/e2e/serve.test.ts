import { describe, it, expect } from "vitest";
import { spawn } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { CreateQueueCommand } from "@aws-sdk/client-sqs";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { inject } from "vitest";
import { clients, newBucket, newContainer, serverEnv, uniqueName } from "../support/env.ts";
import { runCli } from "../support/cli.ts";
import { freePort } from "../../shared/servers/launch.ts";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "migrate.js");

describe("migrate serve and migrate start: the deployed shape, locally", () => {
  it("a start on the control queue is listed, copied by the served worker through its queue trigger, and reported", async () => {
    // Prepare: queues on fauxqs, a container, a bucket.
    const q = inject("sqs");
    const sqs = clients.sqs();
    const prefix = uniqueName("srv");
    const url = async (name: string) => (await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-${name}`, Attributes: { VisibilityTimeout: "60" } }))).QueueUrl!;
    const [control, w0, w1] = [await url("control"), await url("worker-0"), await url("worker-1")];
    const container = await newContainer("srv");
    for (let i = 0; i < 12; i++) await container.getBlockBlobClient(`in/${i}.txt`).upload(`payload ${i}`, `payload ${i}`.length);
    const bucket = await newBucket("srv");
    const env = {
      ...serverEnv(),
      SQS_ENDPOINT: q.endpoint,
      SQS_REGION: q.region,
      SQS_ACCESS_KEY_ID: q.accessKeyId,
      SQS_SECRET_ACCESS_KEY: q.secretAccessKey,
      CONTROL_QUEUE_URL: control,
      WORKER_QUEUE_URLS: `${w0},${w1}`,
      STATE_BUCKET: bucket,
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
    };
    const port = await freePort();
    const server = spawn(process.execPath, [BIN, "serve", "--port", String(port)], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    server.stderr.on("data", (d) => (stderr += d));
    try {
      // Act
      const start = await runCli(["start", "--via-queue", "--from", `azure://${container.containerName}/in`, "--to", `s3://${bucket}/out`, "--run-id", "served", "--shard-objects", "5"], env);
      expect(start.code, start.stderr).toBe(0);
      expect(start.stdout.trim()).toBe("served");
      const watch = await runCli(["status", "served", "--watch", "--json"], env, { timeoutMs: 90_000 });
      // Assess
      expect(watch.code, watch.stderr + stderr).toBe(0);
      expect(JSON.parse(watch.stdout)).toMatchObject({ state: "finished", objects: { planned: 12, copied: 12, failed: 0 }, shards: { planned: 3, done: 3 } });
      const got = await clients.s3().send(new GetObjectCommand({ Bucket: bucket, Key: "out/7.txt" }));
      expect(await got.Body!.transformToString()).toBe("payload 7");
    } finally {
      const exited = new Promise((r) => server.once("exit", r));
      server.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (server.exitCode === null) server.kill("SIGKILL");
    }
  }, 150_000);
});
