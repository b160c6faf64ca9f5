import { describe, it, expect } from "vitest";
import { spawn } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { CreateQueueCommand, PurgeQueueCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { clients, newBucket, newContainer, serverEnv, uniqueName } from "../support/env.ts";
import { runCli } from "../support/cli.ts";
import { freePortPair } from "../../shared/servers/launch.ts";
import { signedPing } from "../../shared/doctor/function-pings.ts";
import { fingerprint } from "../../shared/runtime/fingerprint.ts";
import { loadConfigValues } from "../../shared/config.ts";

/** A control queue and two worker queues on fauxqs, named after `prefix`: [control, worker-0, worker-1]. */
async function controlAndWorkerQueues(prefix: string): Promise<[string, string, string]> {
  const sqs = clients.sqs();
  const base = uniqueName(prefix);
  const url = async (name: string) => (await sqs.send(new CreateQueueCommand({ QueueName: `${base}-${name}`, Attributes: { VisibilityTimeout: "60" } }))).QueueUrl!;
  return [await url("control"), await url("worker-0"), await url("worker-1")];
}

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "migrate.js");

describe("migrate serve and migrate start: the deployed shape, locally", () => {
  it("a start on the control queue is listed, copied by the served worker through its queue trigger, and reported", async () => {
    // Prepare: queues on fauxqs, a container, a bucket.
    const q = inject("sqs");
    const [control, w0, w1] = await controlAndWorkerQueues("srv");
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
    const port = await freePortPair();
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

      // migrate doctor's ping: answered by both served handlers with this environment's fingerprint, and through a queue trigger.
      for (const p of [port, port + 1]) {
        const ping = signedPing({ id: "doctor-serve-1", at: new Date().toISOString(), reply: "http" }, q.secretAccessKey);
        const res = await fetch(`http://127.0.0.1:${p}/`, { method: "POST", headers: { "X-Migrate-Client": "test" }, body: JSON.stringify(ping) });
        expect(res.status).toBe(200);
        expect(((await res.json()) as { config: { hash: string } }).config.hash).toBe(fingerprint(loadConfigValues(env)).hash);
      }
      const queued = signedPing({ id: "doctor-serve-2", at: new Date().toISOString(), reply: "state", stateBucket: bucket, queue: "w1" }, q.secretAccessKey);
      await clients.sqs().send(new SendMessageCommand({ QueueUrl: w1, MessageBody: JSON.stringify(queued) }));
      const answerKey = ".migrate-state/doctor/doctor-serve-2/queue-w1.json";
      let answer: string | undefined;
      for (let i = 0; i < 100 && !answer; i++) {
        answer = await clients.s3().send(new GetObjectCommand({ Bucket: bucket, Key: answerKey })).then((o) => o.Body!.transformToString(), () => undefined);
        if (!answer) await new Promise((r) => setTimeout(r, 300));
      }
      expect(JSON.parse(answer!)).toMatchObject({ function: "worker", version: "0.1.0" });
    } finally {
      const exited = new Promise((r) => server.once("exit", r));
      server.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (server.exitCode === null) server.kill("SIGKILL");
    }
  }, 150_000);
});

describe("migrate serve fires the schedule trigger", () => {
  it("a run whose server was killed with -9 and whose queued messages were lost finishes under a restarted migrate serve, by its sweep alone", async () => {
    // Prepare: queues, 80 blobs, one object per shard so that the kill lands mid-run.
    const q = inject("sqs");
    const queues = await controlAndWorkerQueues("swp");
    const container = await newContainer("swp");
    const blobs = new Map<string, Buffer>();
    for (let i = 0; i < 80; i++) blobs.set(`in/${i}.bin`, randomBytes(64 * 1024 + i));
    await Promise.all([...blobs].map(([k, b]) => container.getBlockBlobClient(k).upload(b, b.length)));
    const bucket = await newBucket("swp");
    const env = {
      ...serverEnv(),
      SQS_ENDPOINT: q.endpoint,
      SQS_REGION: q.region,
      SQS_ACCESS_KEY_ID: q.accessKeyId,
      SQS_SECRET_ACCESS_KEY: q.secretAccessKey,
      CONTROL_QUEUE_URL: queues[0]!,
      WORKER_QUEUE_URLS: `${queues[1]},${queues[2]}`,
      STATE_BUCKET: bucket,
      // Leases expire 12 s after an invocation starts: the sweep re-sends silent shards after that.
      FUNCTION_TIMEOUT_SECONDS: "10",
      DEADLINE_MARGIN_SECONDS: "2",
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
    };
    const serve = async (extra: string[]) => {
      const port = await freePortPair();
      const child = spawn(process.execPath, [BIN, "serve", "--port", String(port), ...extra], { env, stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      return { child, stderr: () => stderr };
    };
    const s3 = clients.s3();
    const count = async (p: string) => (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p }))).KeyCount ?? 0;
    const first = await serve([]);
    let second: Awaited<ReturnType<typeof serve>> | undefined;
    try {
      const start = await runCli(["start", "--via-queue", "--from", `azure://${container.containerName}/in`, "--to", `s3://${bucket}/out`, "--run-id", "killed", "--shard-objects", "1"], env);
      expect(start.code, start.stderr).toBe(0);
      const until = Date.now() + 60_000;
      while ((await count(".migrate-state/runs/killed/results/")) === 0) {
        if (Date.now() > until) throw new Error(`no shard finished under the first server: ${first.stderr()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      // Act: kill -9 mid-run, lose every queued and in-flight message, restart with a fast sweep.
      first.child.kill("SIGKILL");
      await new Promise((r) => first.child.once("exit", r));
      const doneAtKill = await count(".migrate-state/runs/killed/results/");
      for (const u of queues) await clients.sqs().send(new PurgeQueueCommand({ QueueUrl: u }));
      await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: ".migrate-state/runs/killed/report.json" }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
      second = await serve(["--sweep-every", "2"]);
      const watch = await runCli(["status", "killed", "--watch", "--json"], env, { timeoutMs: 200_000 });
      // Assess
      expect(watch.code, watch.stderr + second.stderr()).toBe(0);
      expect(doneAtKill).toBeLessThan(80);
      expect(JSON.parse(watch.stdout)).toMatchObject({ state: "finished", objects: { planned: 80, failed: 0 }, shards: { planned: 80, done: 80 } });
      for (const [k, b] of [...blobs].filter((_, i) => i % 9 === 0)) {
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k.replace(/^in\//, "out/") }));
        expect(Buffer.from(await got.Body!.transformToByteArray()).equals(b), k).toBe(true);
      }
      expect(second.stderr()).toMatch(/schedule coordinator every 2 s/);
    } finally {
      for (const c of [first.child, second?.child]) {
        if (!c || c.exitCode !== null || c.signalCode !== null) continue;
        const exited = new Promise((r) => c.once("exit", r));
        c.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (c.exitCode === null) c.kill("SIGKILL");
      }
    }
  }, 240_000);
});
