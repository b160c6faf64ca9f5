/**
 * The deployable artifact, offline: `npm run build`, `serverless package` and
 * `serverless print` as an operator runs them, then the built bundles served
 * the way Scaleway Functions calls them (@scaleway/serverless-functions) and
 * driven through real queues, Azurite and Ceph RGW.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { createSqsClient } from "../../shared/sdk-clients.ts";
import { DEFAULT_PROVISION_OPTIONS } from "../../shared/provision/options.ts";
import { provision } from "../../shared/provision/provision.ts";
import { clients, newBucket, newContainer, serverEnv, sqsConfig, uniqueName } from "../support/env.ts";
import { serveBundle } from "../support/served-bundle.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BUNDLES = ["dist/coordinator/handler.js", "dist/worker/handler.js"];
const MAX_BUNDLE_BYTES = 1.75 * 1024 * 1024;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command in the project with the given environment (no Scaleway credentials: offline). */
function run(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 90_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", SLS_TELEMETRY_DISABLED: "1", SLS_NOTIFICATIONS_MODE: "off", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Names, sizes and CRC-32s of a zip's entries, from its central directory. */
function zipEntries(buf: Buffer): Array<{ name: string; size: number; crc32: number }> {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error("not a zip: no end of central directory");
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`bad central directory entry ${i}`);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    out.push({ name: buf.toString("utf8", p + 46, p + 46 + nameLen), size: buf.readUInt32LE(p + 24), crc32: buf.readUInt32LE(p + 16) });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

interface PrintedFunction {
  handler: string;
  memoryLimit: number;
  timeout: string;
  maxScale: number;
  privacy: string;
  sandbox: string;
  env?: Record<string, unknown>;
  secret?: Record<string, unknown>;
  events: Array<{ schedule?: { rate: string; input: unknown }; sqs?: { name: string; queue: string } }>;
}
interface Printed {
  provider: { runtime: string; env: Record<string, unknown>; secret: Record<string, unknown> };
  package: { patterns: string[] };
  functions: Record<string, PrintedFunction>;
}

async function print(env: Record<string, string> = {}): Promise<Printed> {
  const r = await run("npx", ["--no", "serverless", "print", "--format", "json"], env);
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return JSON.parse(r.stdout.slice(r.stdout.indexOf("{"))) as Printed;
}

let build: Run;

beforeAll(async () => {
  build = await run("npm", ["run", "build"]);
}, 120_000);

describe("npm run build", () => {
  it("writes one ESM bundle per function (handler.js and its chunks) under the size budget and reports sizes and import times", () => {
    expect(build.code, build.stderr).toBe(0);
    for (const b of BUNDLES) {
      expect(statSync(join(ROOT, b)).size).toBeGreaterThan(10_000);
      const dir = join(ROOT, dirname(b));
      const files = readdirSync(dir);
      expect(files.every((f) => /^(handler|chunk-[A-Z0-9]+)\.js$/.test(f)), files.join(", ")).toBe(true);
      // The SDKs a function loads only when it needs them are chunks apart from what a cold start loads.
      expect(files.length).toBeGreaterThan(2);
      const total = files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
      expect(total).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
      expect(build.stdout).toMatch(new RegExp(`${b.replace(/[./]/g, "\\$&")}\\s+[\\d.]+ (KB|MB)`));
      expect(build.stdout).toMatch(new RegExp(`${b.replace(/[./]/g, "\\$&")}\\s+import \\d+ ms`));
      expect(readFileSync(join(ROOT, b), "utf8").startsWith('import { createRequire } from "module"')).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(ROOT, "dist/package.json"), "utf8"))).toEqual({ type: "module" });
  });
});

describe("serverless package and print, offline", () => {
  it("zips exactly the bundles", async () => {
    expect(build.code).toBe(0);
    const r = await run("npx", ["--no", "serverless", "package"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const entries = zipEntries(readFileSync(join(ROOT, ".serverless", "azure-to-scaleway-migrator.zip")));
    // Every file the build wrote, and nothing else.
    const built = ["dist/package.json", ...["coordinator", "worker"].flatMap((f) => readdirSync(join(ROOT, "dist", f)).map((n) => `dist/${f}/${n}`))].sort();
    expect(built).toContain("dist/worker/handler.js");
    expect(entries.map((e) => e.name).sort()).toEqual(built);
    for (const e of entries) {
      const local = readFileSync(join(ROOT, e.name));
      expect(e.size).toBe(local.length);
      expect(e.crc32).toBe(crc32(local));
    }
  });

  it("lists both functions with their triggers, sizing and secrets", async () => {
    const p = await print();
    expect(p.provider.runtime).toBe("node22");
    expect(Object.keys(p.functions).sort()).toEqual(["coordinator", "worker"]);
    const { coordinator, worker } = p.functions as { coordinator: PrintedFunction; worker: PrintedFunction };
    expect(coordinator).toMatchObject({ handler: "dist/coordinator/handler.handle", memoryLimit: 512, timeout: "900s", privacy: "private", sandbox: "v2" });
    expect(worker).toMatchObject({ handler: "dist/worker/handler.handle", memoryLimit: 1024, timeout: "900s", privacy: "private", sandbox: "v2" });
    expect(coordinator.events).toEqual([
      { schedule: { rate: "0/5 * * * *", input: { v: 1, type: "sweep" } } },
      { sqs: { name: "migrate-control", queue: "migrate-control" } },
    ]);
    expect(worker.events).toEqual([
      { sqs: { name: "migrate-worker-0", queue: "migrate-worker-0" } },
      { sqs: { name: "migrate-worker-1", queue: "migrate-worker-1" } },
    ]);
    // Every trigger name passes the plugin's check; no SCW_ name reaches a function; numbers stay numbers.
    for (const f of [coordinator, worker]) {
      for (const e of f.events) if (e.sqs) expect(e.sqs.name).toMatch(/^[a-zA-Z0-9-]{2,100}$/);
      expect(typeof f.memoryLimit).toBe("number");
      expect(typeof f.maxScale).toBe("number");
      for (const k of Object.keys({ ...f.env, ...f.secret })) expect(k).not.toMatch(/^SCW_/);
      for (const v of Object.values(f.env ?? {})) expect(typeof v).toBe("string");
    }
    for (const k of Object.keys({ ...p.provider.env, ...p.provider.secret })) expect(k).not.toMatch(/^SCW_/);
    for (const v of Object.values(p.provider.env)) expect(typeof v).toBe("string");
    expect(Object.keys(p.provider.secret).sort()).toEqual(
      ["AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PEM", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_SSE_C_KEY", "SQS_ACCESS_KEY_ID", "SQS_SECRET_ACCESS_KEY"].sort(),
    );
    expect(Object.keys(coordinator.secret ?? {})).toEqual(["START_TOKEN"]);
  });

  it("takes secrets from the environment and sizing from it, and refuses sizes the platform would reject", async () => {
    const p = await print({ WORKER_QUEUE_COUNT: "3", QUEUE_PREFIX: "mig", WORKER_MEMORY_MB: "2048", S3_SECRET_ACCESS_KEY: "from-the-shell" });
    expect(p.functions.worker!.events.map((e) => e.sqs?.queue)).toEqual(["mig-worker-0", "mig-worker-1", "mig-worker-2"]);
    expect(p.functions.coordinator!.events[1]).toEqual({ sqs: { name: "mig-control", queue: "mig-control" } });
    expect(p.functions.worker!.memoryLimit).toBe(2048);
    expect(p.provider.secret.S3_SECRET_ACCESS_KEY).toBe("from-the-shell");
    expect(readFileSync(join(ROOT, "serverless.yml"), "utf8")).not.toContain("from-the-shell");
    const bad = await run("npx", ["--no", "serverless", "print"], { WORKER_MEMORY_MB: "1000" });
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).toContain("workerMemoryMb must be one of");
  });
});

// ---------------------------------------------------------------------------

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("built bundles behind the platform's event shape, on Azurite, Ceph RGW and fauxqs", () => {
  it("start over HTTP -> shard messages on the worker queues -> objects copied -> shard-done -> run finished", async () => {
    // Prepare: blobs, a bucket, queues provisioned as for a deployment
    expect(build.code).toBe(0);
    const container = await newContainer("bundle");
    const blobs: Record<string, Buffer> = {};
    for (let i = 0; i < 5; i++) blobs[`data/file-${i}.bin`] = Buffer.from(`payload ${i} `.repeat(100 + i));
    for (const [name, body] of Object.entries(blobs)) {
      await container.getBlockBlobClient(name).upload(body, body.length, { metadata: { origin: "bundle-test" } });
    }
    const bucket = await newBucket("bundle");
    const q = sqsConfig();
    const admin = { accessKeyId: q.accessKeyId, secretAccessKey: q.secretAccessKey };
    const provisioned = await provision(
      { ...DEFAULT_PROVISION_OPTIONS, queuePrefix: uniqueName("bdl"), workerQueues: 2, sqsRegion: q.region },
      { sqsEndpoint: q.endpoint, adminCredentials: admin, createSqsClient: (c) => createSqsClient(c, undefined) },
    );
    const exported = Object.fromEntries(provisioned.exports.map((e) => [e.name, e.value]));
    const env: Record<string, string> = {
      ...serverEnv(),
      SQS_ENDPOINT: q.endpoint!,
      SQS_REGION: q.region,
      SQS_ACCESS_KEY_ID: q.accessKeyId,
      SQS_SECRET_ACCESS_KEY: q.secretAccessKey,
      WORKER_QUEUE_URLS: exported.WORKER_QUEUE_URLS!,
      CONTROL_QUEUE_URL: exported.CONTROL_QUEUE_URL!,
      STATE_BUCKET: bucket,
      FUNCTION_TIMEOUT_SECONDS: "60",
      DEADLINE_MARGIN_SECONDS: "5",
    };
    const coordinator = await serveBundle(join(ROOT, "dist/coordinator/handler.js"), env);
    const worker = await serveBundle(join(ROOT, "dist/worker/handler.js"), env);
    const sqs = clients.sqs();
    const workerUrls = exported.WORKER_QUEUE_URLS!.split(",");
    const controlUrl = exported.CONTROL_QUEUE_URL!;
    try {
      // Act: the operator's start request, over HTTP
      const runId = uniqueName("run");
      const start = { v: 1, type: "start", runId, source: { container: container.containerName, prefix: "data/" }, destination: { bucket, prefix: "copied/" }, options: { shardMaxObjects: 2 } };
      const started = await post(coordinator.url, JSON.stringify(start));
      expect(started.status, coordinator.logs()).toBe(202);
      // The schedule trigger's input (serverless.yml) finds the active run.
      const swept = await post(coordinator.url, JSON.stringify({ v: 1, type: "sweep" }));
      expect(swept.status, coordinator.logs()).toBe(200);
      expect(swept.body.runs).toBe(1);

      // Act: play the queue triggers, one message per invocation, until the run is finished
      let shardMessages = 0;
      let finished = false;
      const deadline = Date.now() + 45_000;
      while (!finished && Date.now() < deadline) {
        let delivered = 0;
        for (const [url, target, isWorker] of [...workerUrls.map((u) => [u, worker, true] as const), [controlUrl, coordinator, false] as const]) {
          const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
          for (const m of got.Messages ?? []) {
            delivered++;
            if (isWorker) {
              expect(JSON.parse(m.Body!)).toMatchObject({ v: 1, type: "shard", runId });
              shardMessages++;
            }
            const r = await post(target.url, m.Body!);
            expect(r.status, target.logs()).toBeLessThan(300);
            if (!isWorker && r.body.finished === true) finished = true;
            await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }));
          }
        }
        if (delivered === 0) await new Promise((r) => setTimeout(r, 200));
      }

      // Assess: messages were sent to the worker queues, every object copied byte for byte, the run finished
      expect(finished).toBe(true);
      expect(shardMessages).toBeGreaterThanOrEqual(3); // 5 objects, 2 per shard
      const listed = await clients.s3().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "copied/" }));
      expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual(Object.keys(blobs).map((k) => k.replace(/^data\//, "copied/")).sort());
      for (const [name, body] of Object.entries(blobs)) {
        const got = await clients.s3().send(new GetObjectCommand({ Bucket: bucket, Key: name.replace(/^data\//, "copied/") }));
        expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
        expect(got.Metadata?.origin).toBe("bundle-test");
      }
      // A malformed queue message is answered 2xx (recorded, not retried forever).
      const bad = await post(worker.url, '{"v":1,"type":"shard"}');
      expect(bad.status).toBe(200);
    } finally {
      await Promise.all([coordinator.stop(), worker.stop()]);
    }
  });
});
