/**
 * `migrate report RUN --html FILE`: one self-contained page (inline CSS and
 * SVG, no script, nothing fetched) with the run's totals, throughput over
 * time, objects and bytes by outcome, failures by reason with examples and the
 * slowest shards. Built from the report and the shard results, read in shard
 * order with at most READ_AHEAD in flight: memory is the same for any run size.
 */
import type { StateStore } from "../ports.ts";
import { readJson } from "../state/json.ts";
import { shardId, type RunReport, type ShardResult, type StateLayout } from "../state/layout.ts";

const BUCKETS = 60;
const SLOWEST = 10;
const READ_AHEAD = 16;

export interface ShardTimes {
  /** Bytes copied per time bucket between the run's start and end. */
  throughput: number[];
  bucketSeconds: number;
  slowest: Array<{ shardId: string; seconds: number; objects: number; bytes: number; invocations: number }>;
}

export async function shardTimes(store: StateStore, layout: StateLayout, report: RunReport): Promise<ShardTimes> {
  const start = Date.parse(report.startedAt);
  const span = Math.max(1, Date.parse(report.finishedAt) - start);
  const throughput = new Array<number>(BUCKETS).fill(0);
  const slowest: ShardTimes["slowest"] = [];
  const keys = layout.run(report.runId);
  const total = report.dryRun ? 0 : report.shards;
  // READ_AHEAD results in flight, taken in shard order: the time of one read per shard, not its latency.
  const read = (i: number) => {
    const p = readJson<ShardResult>(store, keys.result(shardId(i)));
    // Awaited in its turn (an error is thrown then); not an unhandled rejection while earlier reads are awaited.
    p.catch(() => undefined);
    return p;
  };
  const ahead: Array<ReturnType<typeof read>> = [];
  for (let i = 0; i < Math.min(READ_AHEAD, total); i++) ahead.push(read(i));
  for (let i = 0; i < total; i++) {
    const next = ahead.shift()!;
    if (i + READ_AHEAD < total) ahead.push(read(i + READ_AHEAD));
    const r = (await next)?.value;
    if (!r) continue;
    const bytes = r.objects.reduce((s, o) => s + (o.outcome === "copied" ? o.size : 0), 0);
    const t0 = Date.parse(r.startedAt);
    const t1 = Math.max(t0 + 1, Date.parse(r.finishedAt));
    // A shard's bytes are spread evenly over the time it ran.
    for (let b = 0; b < BUCKETS; b++) {
      const b0 = start + (b * span) / BUCKETS;
      const b1 = start + ((b + 1) * span) / BUCKETS;
      const overlap = Math.max(0, Math.min(t1, b1) - Math.max(t0, b0));
      throughput[b]! += (bytes * overlap) / (t1 - t0);
    }
    const entry = { shardId: r.shardId, seconds: (t1 - t0) / 1000, objects: r.objects.length, bytes, invocations: r.invocations };
    if (slowest.length < SLOWEST || entry.seconds > slowest[slowest.length - 1]!.seconds) {
      slowest.push(entry);
      slowest.sort((a, b) => b.seconds - a.seconds);
      if (slowest.length > SLOWEST) slowest.pop();
    }
  }
  return { throughput, bucketSeconds: span / 1000 / BUCKETS, slowest };
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (n: number) => n.toLocaleString("en-US");
const mb = (n: number) => `${(n / 1e6).toLocaleString("en-US", { maximumFractionDigits: 1 })} MB`;

function bars(values: number[], width: number, height: number, label: (v: number, i: number) => string): string {
  const max = Math.max(1, ...values);
  const w = width / values.length;
  const rects = values
    .map((v, i) => {
      const h = (v / max) * (height - 10);
      return `<rect x="${(i * w).toFixed(1)}" y="${(height - h).toFixed(1)}" width="${Math.max(1, w - 1).toFixed(1)}" height="${h.toFixed(1)}"><title>${esc(label(v, i))}</title></rect>`;
    })
    .join("");
  return `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">${rects}</svg>`;
}

export function renderHtml(report: RunReport, times: ShardTimes): string {
  const o = report.objects;
  const rows = (pairs: Array<[string, string]>) => pairs.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("");
  const byReason = Object.entries(report.failuresByReason).sort((a, b) => b[1] - a[1]);
  const examples = (code: string) =>
    (report.failureExamples?.[code] ?? [])
      .map((f) => `<li><code>${esc(f.key)}</code>: ${esc(f.reason)}</li>`)
      .join("");
  const outcome: Array<[string, number]> = [
    ["copied", o.copied],
    ["skipped (unchanged)", o.skipped],
    ["failed", o.failed],
    ["archived (not read)", o.archived],
    ["filtered out", o.filteredOut],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Run ${esc(report.runId)}: ${esc(report.status)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:960px;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse} th,td{padding:.2em .8em;text-align:left;border-bottom:1px solid #eee}
.succeeded{color:#17702f} .failed{color:#b00020} svg rect{fill:#3d6fb6} code{font-size:.9em}
</style></head><body>
<h1>Run <code>${esc(report.runId)}</code>: <span class="${esc(report.status)}">${esc(report.status)}</span>${report.dryRun ? " (dry run)" : ""}</h1>
<table>${rows([
    ["source", report.source],
    ["destination", report.destination],
    ["started", report.startedAt],
    ["finished", report.finishedAt],
    ["duration", `${report.durationSeconds.toFixed(1)} s`],
    ["objects planned", num(o.planned)],
    ["bytes copied", `${mb(report.bytes.copied)} of ${mb(report.bytes.planned)} planned`],
    ["throughput", `${mb(report.throughputBytesPerSecond)}/s`],
    ["shards", num(report.shards)],
    ["retries", num(report.retries)],
    ["attempt", String(report.attempt ?? 1)],
    ["ledger", report.ledger],
  ])}</table>
<h2>Objects by outcome</h2>
<table>${outcome.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${num(v)}</td></tr>`).join("")}</table>
<h2>Throughput over time</h2>
${bars(times.throughput.map((b) => b / Math.max(0.001, times.bucketSeconds)), 900, 160, (v, i) => `${(i * times.bucketSeconds).toFixed(0)} s: ${mb(v)}/s`)}
<p>Bytes copied per ${times.bucketSeconds.toFixed(1)} s, from the shards' start and end times.</p>
<h2>Failures by reason</h2>
${byReason.length === 0 ? "<p>None.</p>" : `<table>${byReason.map(([code, n]) => `<tr><th>${esc(code)}</th><td>${num(n)}</td><td><ul>${examples(code)}</ul></td></tr>`).join("")}</table>`}
${report.failuresOmitted ? `<p>${num(report.failuresOmitted)} more failures are in the ledger.</p>` : ""}
<h2>Warnings</h2>
${report.warnings.length === 0 ? "<p>None.</p>" : `<ul>${report.warnings.slice(0, 50).map((w) => `<li>${w.key ? `<code>${esc(w.key)}</code>: ` : ""}${esc(w.warning)}</li>`).join("")}</ul>`}
<h2>Slowest shards</h2>
${times.slowest.length === 0 ? "<p>None.</p>" : `<table><tr><th>shard</th><th>seconds</th><th>objects</th><th>bytes</th><th>invocations</th></tr>${times.slowest.map((s) => `<tr><td>${esc(s.shardId)}</td><td>${s.seconds.toFixed(1)}</td><td>${num(s.objects)}</td><td>${mb(s.bytes)}</td><td>${s.invocations}</td></tr>`).join("")}</table>`}
</body></html>
`;
}
