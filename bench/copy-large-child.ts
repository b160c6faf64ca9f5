/**
 * The copying half of bench/copy-large.ts, in its own process so its peak RSS
 * is the engine's alone. The parent bundles it with esbuild, as the functions
 * are deployed, and runs it with plain node: `node child.mjs '<json input>'`.
 */
import { createS3Http } from "../shared/clients.ts";
import { createS3Client } from "../shared/sdk-clients.ts";
import { createBlobServiceClient } from "../shared/azure-sdk-client.ts";
import { DEFAULT_RETRY_POLICY } from "../shared/retry.ts";
import type { AzureConfig, S3Config } from "../shared/config.ts";
import { AzureBlobSource } from "../shared/azure/blob-source.ts";
import { S3ObjectSink } from "../shared/s3/object-sink.ts";
import { copyObject } from "../shared/copy/copy-object.ts";
import { ByteBudget } from "../shared/copy/memory-budget.ts";
import { DEFAULT_TUNING, MiB } from "../shared/limits.ts";

export interface ChildInput {
  azure: AzureConfig;
  s3: S3Config;
  container: string;
  blob: string;
  bucket: string;
  key: string;
}

export interface ChildOutput {
  seconds: number;
  maxRssMiB: number;
  outcome: string;
  detail: string;
  retries: number;
  memory: string;
}

async function child(input: ChildInput): Promise<void> {
  const source = new AzureBlobSource(createBlobServiceClient(input.azure, DEFAULT_RETRY_POLICY));
  const sink = new S3ObjectSink(async () => createS3Client(input.s3, DEFAULT_RETRY_POLICY), { http: createS3Http(input.s3, DEFAULT_RETRY_POLICY) });
  const blob = (await source.stat(input.container, input.blob))!;
  // Where the memory goes, sampled: V8 heap vs buffers (arrayBuffers) vs the rest of the RSS.
  const peak = { rss: 0, heapUsed: 0, arrayBuffers: 0 };
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
  }, 50);
  const baseRss = process.memoryUsage().rss;
  const started = process.hrtime.bigint();
  const result = await copyObject(source, sink, { container: input.container, blob, bucket: input.bucket, key: input.key }, {
    tuning: DEFAULT_TUNING,
    memory: new ByteBudget(DEFAULT_TUNING.memoryBudget),
    force: true,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(sampler);
  const m = (n: number) => `${(n / MiB).toFixed(0)} MiB`;
  const out: ChildOutput = {
    memory: `RSS before copy ${m(baseRss)}; sampled peaks: RSS ${m(peak.rss)}, V8 heap ${m(peak.heapUsed)}, buffers ${m(peak.arrayBuffers)}`,
    seconds,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    outcome: result.outcome,
    detail: result.outcome === "copied" ? `${result.parts} parts, ${result.verifiedBy}, md5 ${result.md5}` : JSON.stringify(result),
    retries: "retries" in result ? result.retries : 0,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

child(JSON.parse(process.argv[2]!) as ChildInput).catch((err) => {
  process.stderr.write(`copy failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
