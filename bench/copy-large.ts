/**
 * Benchmark (not a test): copy one large blob Azurite -> Ceph RGW with the
 * default tuning, print throughput and the copying process's peak RSS, then
 * copy the same blob with rclone 1.60 for comparison.
 *
 *   node --import tsx bench/copy-large.ts [--size-mb 1024] [--no-rclone]
 *
 * The copy runs in a child process so its peak RSS is the engine's alone (the
 * parent also starts servers and uploads the test blob). Servers are started
 * and stopped here.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CreateBucketCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { createS3Client } from "../shared/sdk-clients.ts";
import { createBlobServiceClient } from "../shared/azure-sdk-client.ts";
import { DEFAULT_RETRY_POLICY } from "../shared/retry.ts";
import type { S3Config } from "../shared/config.ts";
import { startAzurite, startRgw, type AzuriteServer, type S3Server } from "../shared/servers/launch.ts";
import { build } from "esbuild";
import type { ChildInput, ChildOutput } from "./copy-large-child.ts";
import { uploadLargeBlob } from "./corpus.ts";
import { writeRcloneConfig } from "./tools.ts";
import { DEFAULT_TUNING, MiB } from "../shared/limits.ts";

const BLOCK = 8 * MiB;

/** CPU ticks of every process, to see who works during a copy (servers, copier, anything else on the machine). */
function cpuSnapshot(): Map<number, { name: string; ticks: number }> {
  const out = new Map<number, { name: string; ticks: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      let name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (name === "node") {
        const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
        name = cmd.includes("azurite") ? "azurite" : cmd.includes("copy-large") || cmd.includes("child.mjs") ? "bench+copier" : "node (other)";
      }
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime and stime (fields 14 and 15 of the full line), plus reaped children (16, 17).
      const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      out.set(Number(entry), { name, ticks });
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

function cpuReport(before: Map<number, { name: string; ticks: number }>, seconds: number): string {
  const after = cpuSnapshot();
  const byName = new Map<string, number>();
  for (const [pid, a] of after) {
    const d = a.ticks - (before.get(pid)?.ticks ?? 0);
    if (d > 0) byName.set(a.name, (byName.get(a.name) ?? 0) + d);
  }
  const hz = 100;
  return [...byName.entries()]
    .sort((x, y) => y[1] - x[1])
    .slice(0, 6)
    .map(([name, t]) => `${name} ${(t / hz).toFixed(1)}s (${((100 * t) / hz / seconds).toFixed(0)}%)`)
    .join(", ");
}

function run(cmd: string, args: string[], options: { capture?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += String(d)));
    p.stderr.on("data", (d) => {
      stderr += String(d);
      if (!options.capture) process.stderr.write(d);
    });
    p.on("error", reject);
    p.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Uploads `size` bytes of pseudo-random data in staged blocks, never holding more than a few blocks. */
async function uploadBlob(azurite: AzuriteServer, container: string, name: string, size: number): Promise<string> {
  const service = createBlobServiceClient({ kind: "connection-string", connectionString: azurite.connectionString }, DEFAULT_RETRY_POLICY);
  const c = service.getContainerClient(container);
  await c.createIfNotExists();
  return uploadLargeBlob(c, name, size);
}

async function rcloneCopy(azurite: AzuriteServer, rgw: S3Server, container: string, name: string, bucket: string, key: string, dir: string) {
  const conf = writeRcloneConfig(dir, azurite, rgw).path;
  const args = ["-u", "AWS_CA_BUNDLE", "/usr/bin/time", "-f", "%M", "rclone", "--config", conf, "copyto", `az:${container}/${name}`, `dst:${bucket}/${key}`, "--s3-no-check-bucket"];
  const started = process.hrtime.bigint();
  const r = await run("env", args, { capture: true });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.code !== 0) throw new Error(`rclone failed (${r.code}): ${r.stderr.slice(-2000)}`);
  const maxRssKiB = Number(r.stderr.trim().split("\n").at(-1));
  return { seconds, maxRssMiB: Number.isFinite(maxRssKiB) ? maxRssKiB / 1024 : NaN };
}

async function main() {
  const { values } = parseArgs({
    options: {
      "size-mb": { type: "string", default: "1024" },
      "no-rclone": { type: "boolean", default: false },
    },
  });
  const sizeMiB = Number(values["size-mb"]);
  if (!Number.isInteger(sizeMiB) || sizeMiB < 1) throw new Error("--size-mb must be a whole number of MiB >= 1");
  const size = sizeMiB * MiB;
  const started: Array<{ stop(): Promise<void> }> = [];
  const dir = mkdtempSync(join(tmpdir(), "bench-copy-"));
  try {
    process.stderr.write("starting Azurite and Ceph RGW...\n");
    const servers = await Promise.allSettled([startAzurite(), startRgw()]);
    for (const s of servers) if (s.status === "fulfilled") started.push(s.value);
    const failed = servers.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    const azurite = (servers[0] as PromiseFulfilledResult<AzuriteServer>).value;
    const rgw = (servers[1] as PromiseFulfilledResult<S3Server>).value;
    const s3Config: S3Config = { endpoint: rgw.endpoint, region: rgw.region, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, forcePathStyle: true, maxSockets: 64 };
    const s3 = createS3Client(s3Config, DEFAULT_RETRY_POLICY);
    const container = `bench-${randomBytes(3).toString("hex")}`;
    const bucket = `bench-${randomBytes(3).toString("hex")}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));

    process.stderr.write(`uploading a ${sizeMiB} MiB blob in ${BLOCK / MiB} MiB blocks...\n`);
    const sourceMd5 = await uploadBlob(azurite, container, "large.bin", size);

    process.stderr.write("copying with the engine (default tuning)...\n");
    const input: ChildInput = { azure: { kind: "connection-string", connectionString: azurite.connectionString }, s3: s3Config, container, blob: "large.bin", bucket, key: "engine/large.bin" };
    // Bundled like the deployed functions (ESM, node20, require shim for the Azure SDK), run with plain node.
    const bundle = join(dir, "child.mjs");
    await build({
      entryPoints: [join(dirname(fileURLToPath(import.meta.url)), "copy-large-child.ts")],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      outfile: bundle,
      banner: { js: 'import { createRequire as __benchRequire } from "module"; const require = __benchRequire(import.meta.url);' },
      logLevel: "error",
    });
    const cpuBefore = cpuSnapshot();
    const c = await run(process.execPath, [bundle, JSON.stringify(input)], { capture: true });
    if (c.code !== 0) throw new Error(`engine copy process failed: ${c.stderr.slice(-2000)}`);
    const ours = JSON.parse(c.stdout.trim().split("\n").at(-1)!) as ChildOutput;
    if (ours.outcome !== "copied" || !ours.detail.includes(sourceMd5)) throw new Error(`engine copy not verified: ${ours.outcome} ${ours.detail}`);

    const mbps = (s: number) => size / 1e6 / s;
    const lines = [
      `blob: ${sizeMiB} MiB (${size} bytes), uploaded in blocks without Content-MD5, md5 ${sourceMd5}`,
      `tuning: part ${DEFAULT_TUNING.partSize / MiB} MiB, ${DEFAULT_TUNING.partConcurrency} parts in flight, budget ${DEFAULT_TUNING.memoryBudget / MiB} MiB`,
      `engine: ${ours.seconds.toFixed(2)} s, ${mbps(ours.seconds).toFixed(1)} MB/s (${(size / MiB / ours.seconds).toFixed(1)} MiB/s), peak RSS ${ours.maxRssMiB.toFixed(0)} MiB, retries ${ours.retries}; ${ours.detail}`,
      `engine memory: ${ours.memory}`,
      `CPU during the engine's run (whole machine, incl. process start): ${cpuReport(cpuBefore, ours.seconds)}`,
    ];
    if (!values["no-rclone"]) {
      process.stderr.write("copying with rclone...\n");
      const rcloneCpuBefore = cpuSnapshot();
      const rc = await rcloneCopy(azurite, rgw, container, "large.bin", bucket, "rclone/large.bin", dir);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "rclone/large.bin" }));
      if (head.ContentLength !== size) throw new Error(`rclone's copy has ${head.ContentLength} bytes, expected ${size}`);
      lines.push(`rclone: ${rc.seconds.toFixed(2)} s, ${mbps(rc.seconds).toFixed(1)} MB/s (${(size / MiB / rc.seconds).toFixed(1)} MiB/s), peak RSS ${rc.maxRssMiB.toFixed(0)} MiB (default settings)`);
      lines.push(`CPU during rclone's run: ${cpuReport(rcloneCpuBefore, rc.seconds)}`);
      lines.push(`ratio engine/rclone throughput: ${(rc.seconds / ours.seconds).toFixed(2)}`);
    }
    lines.push(`goals: peak RSS <= 256 MiB: ${ours.maxRssMiB <= 256 ? "met" : "MISSED"}`);
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await Promise.allSettled(started.reverse().map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
