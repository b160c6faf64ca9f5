/**
 * The WAN profile: a latency proxy (bench/latency-proxy.ts: TCP, every chunk
 * from server to client held BENCH_WAN_MS, default 15 ms, and one more round
 * trip for each new connection) in front of both Azurite and RGW. Both tools
 * go through it: migrate by its connection string (BlobEndpoint) and
 * S3_ENDPOINT, rclone by a config whose sas_url and endpoint name the proxies.
 * rclone runs small objects with --transfers 64 --checkers 64, large blobs
 * with the demanding user's set; migrate with its defaults.
 */
import { MiB } from "../../shared/limits.ts";
import { startLatencyProxy } from "../latency-proxy.ts";
import { RCLONE_WAN, writeRcloneConfig, type Endpoints } from "../tools.ts";
import { P, GOALS } from "../params.ts";
import { log, results, row } from "../table.ts";
import { type Ctx, type Corpus } from "../context.ts";
import { copyOnce, machineCpuRow, summary, type CopyRun } from "./copy.ts";

export async function wan(ctx: Ctx, corpora: Corpus[]): Promise<void> {
  const azureUrl = new URL(ctx.azurite.endpoint);
  const s3Url = new URL(ctx.rgw.endpoint);
  const az = await startLatencyProxy({ host: azureUrl.hostname, port: Number(azureUrl.port) }, P.wanMs);
  const s3 = await startLatencyProxy({ host: s3Url.hostname, port: Number(s3Url.port) }, P.wanMs);
  try {
    const azureEndpoint = `${az.endpoint}${azureUrl.pathname}`;
    const endpoints: Endpoints = { ...ctx.endpoints, connectionString: ctx.azurite.connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=${azureEndpoint}`), s3Endpoint: s3.endpoint };
    const rc = writeRcloneConfig(ctx.dir, ctx.azurite, ctx.rgw, { azure: azureEndpoint, s3: s3.endpoint, name: "rclone-wan.conf" });
    const via: Ctx = { ...ctx, endpoints, rcloneConf: rc.path };
    const out: Record<string, unknown> = { delayMs: P.wanMs, proxy: "TCP delay line: each server-to-client chunk held delayMs; new connections opened delayMs late", rcloneConfig: rc.text };
    for (const name of ["small", "large"] as const) {
      const corpus = corpora.find((c) => c.name === name);
      if (!corpus) continue;
      const flags = RCLONE_WAN[name];
      log(`wan ${name}: ${corpus.objects} objects, ${(corpus.bytes / MiB).toFixed(0)} MiB through ${P.wanMs} ms proxies, best of ${P.runs}, alternating`);
      const runs: CopyRun[] = [];
      for (let round = 0; round < P.runs; round++) {
        const order = round % 2 === 0 ? (["migrate", "rclone-demanding"] as const) : (["rclone-demanding", "migrate"] as const);
        for (const tool of order) runs.push(await copyOnce(via, tool, corpus, 100 + round, [], flags));
      }
      const ours = summary(runs.filter((r) => r.tool === "migrate"));
      const theirs = summary(runs.filter((r) => r.tool !== "migrate"));
      const desc = `${name} (${corpus.objects} objects, ${(corpus.bytes / MiB).toFixed(0)} MiB), ${P.wanMs} ms per answer`;
      row({ section: "wan", what: `${desc}: migrate run (defaults, whole process)`, value: `${ours.seconds.toFixed(2)} s, peak RSS ${ours.maxRssMiB.toFixed(0)} MiB, CPU ${ours.cpuSeconds.toFixed(1)} s` });
      row({ section: "wan", what: `${desc}: rclone (${flags.join(" ")})`, value: `${theirs.seconds.toFixed(2)} s, peak RSS ${theirs.maxRssMiB.toFixed(0)} MiB, CPU ${theirs.cpuSeconds.toFixed(1)} s` });
      const x = theirs.seconds / ours.seconds;
      const goal = GOALS.wanVsRclone[name]!;
      row({ section: "wan", what: `${name} over the WAN profile: speed against rclone (rclone seconds / migrate seconds)`, value: `${x.toFixed(2)}x`, goal: `>= ${goal.toFixed(1)}x`, met: x >= goal });
      machineCpuRow("wan", corpus, runs, { "rclone-demanding": `rclone ${flags.join(" ")}` });
      out[name] = { corpus, rcloneFlags: flags, runs, summary: { migrate: ours, rclone: theirs }, speedVsRclone: x };
    }
    results.wan = out;
  } finally {
    await az.stop();
    await s3.stop();
  }
}
