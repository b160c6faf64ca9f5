/**
 * The scale model: whole runs at two sizes (default 100,000 and 1,000,000
 * objects in shards of 10: 10^4 and 10^5 shards, about 8 minutes on 2 cores),
 * each in its own process (bench/scale-child.ts:
 * the production coordinator, workers and aggregation, a made-up source, a
 * sink that discards, the state in files) so that its peak RSS is its own.
 * Then the state that `migrate status` and `migrate report` read (run record,
 * listing cursor, done groups, shard results, report, ledger) is copied to the
 * bench's Ceph RGW and the CLI answers from there, each command in its own
 * process. Prints per size and the growth from one size to the next, with the
 * goals: peak memory the same within 10%, state requests per shard constant.
 *
 * Why not 10^4 and 10^5 (a few minutes): a run of 10^4 objects ends within two
 * seconds, before the process has reached the size it keeps for the rest of any
 * longer run: V8's young generation has not grown to its 32 MiB, nor the old
 * generation to its first limits, and the aggregation's ledger buffer has not
 * reached one part (6 MiB). Measured 2026-12-03, the run process at 10^4, 10^5
 * and 10^6 objects: 155, 195-218 and 209 MiB.
 */
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { DEFAULT_STATE_PREFIX } from "../../shared/config.ts";
import { FileStateStore } from "../file-state-store.ts";
import { runTimed, type Timed } from "../proc.ts";
import { migrateEnv, ROOT } from "../tools.ts";
import { P, GOALS } from "../params.ts";
import { log, results, row } from "../table.ts";
import { type Ctx } from "../context.ts";

interface ChildFigures {
  objects: number;
  shardObjects: number;
  shards: number;
  seconds: number;
  aggregationSeconds: number;
  state: Record<string, number>;
  messages: number;
  reportBytes: number;
  heapPeakMiB: number;
  retainedMiB: number;
  openUploads: number;
}

interface SizeFigures extends ChildFigures {
  maxRssMiB: number;
  stateRequests: number;
  cli: Record<"status" | "csv" | "html", { seconds: number; maxRssMiB: number }>;
  csvLines: number;
  htmlBytes: number;
}

const BIN = join(ROOT, "bin", "migrate.js");
const n = (x: number) => x.toLocaleString("en-US");

/** The keys of a run that no command of a finished run reads: the shards' work state. */
const WORK_STATE = /\/(shards|leases|checkpoints|giant)\//;

/** Copies what status and report read from the file store to the state bucket on RGW. */
async function publish(ctx: Ctx, store: FileStateStore, runId: string): Promise<number> {
  const prefix = `${DEFAULT_STATE_PREFIX}runs/${runId}/`;
  const ledger = `${prefix}ledger.jsonl`;
  const keys: string[] = [];
  for await (const k of store.list(prefix)) if (!WORK_STATE.test(k.slice(prefix.length - 1)) && k !== ledger) keys.push(k);
  let next = 0;
  const put = async () => {
    for (let i = next++; i < keys.length; i = next++) {
      const o = await store.get(keys[i]!);
      if (o) await ctx.s3.send(new PutObjectCommand({ Bucket: ctx.stateBucket, Key: keys[i]!, Body: o.body, ContentType: "application/json" }));
    }
  };
  await Promise.all(Array.from({ length: 32 }, put));
  // The ledger streamed from its file (its first line is the file store's ETag).
  const file = store.path(ledger);
  if (existsSync(file)) {
    async function* body() {
      let first = true;
      for await (const l of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
        if (first) first = false;
        else yield l + "\n";
      }
    }
    await new Upload({ client: ctx.s3, params: { Bucket: ctx.stateBucket, Key: ledger, Body: Readable.from(body()), ContentType: "application/x-ndjson" }, partSize: 16 * 1024 * 1024, queueSize: 4 }).done();
  }
  return keys.length + 1;
}

async function cli(ctx: Ctx, args: string, out?: string): Promise<Timed> {
  // exec: the shell becomes the CLI, so /usr/bin/time measures the CLI alone.
  const redirect = out ? ` > '${out}'` : " > /dev/null";
  const r = await runTimed("/bin/sh", ["-c", `exec '${process.execPath}' '${BIN}' ${args}${redirect}`], migrateEnv(ctx.endpoints), { cwd: ROOT, timeoutMs: 3_600_000 });
  if (r.code !== 0) throw new Error(`migrate ${args} exited ${r.code}: ${r.stderr.slice(-1000)}`);
  return r;
}

async function one(ctx: Ctx, objects: number): Promise<SizeFigures> {
  const shm = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const dir = mkdtempSync(join(shm, "bench-scale-"));
  const runId = `scale-${objects}-${Date.now()}`;
  try {
    log(`scale: a run of ${n(objects)} objects in shards of ${P.scaleShard} (its own process)...`);
    const r = await runTimed(process.execPath, ["--expose-gc", "--import", "tsx", join(ROOT, "bench", "scale-child.ts")], {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      SCALE_OBJECTS: String(objects),
      SCALE_SHARD: String(P.scaleShard),
      SCALE_STATE_DIR: dir,
      SCALE_RUN_ID: runId,
    }, { cwd: ROOT, timeoutMs: 3_600_000 });
    if (r.code !== 0) throw new Error(`scale run of ${objects} exited ${r.code}: ${r.stderr.slice(-1500)}`);
    const f = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as ChildFigures;
    const stateRequests = Object.values(f.state).reduce((s, v) => s + v, 0);
    row({
      section: "scale",
      what: `run of ${n(objects)} objects, ${n(f.shards)} shards (coordinator, workers, aggregation in one process; state in files): time, peak RSS`,
      value: `${f.seconds.toFixed(1)} s, ${r.maxRssMiB.toFixed(0)} MiB (heap: peak ${f.heapPeakMiB.toFixed(0)} MiB, held after the run ${f.retainedMiB.toFixed(1)} MiB)`,
    });
    row({
      section: "scale",
      what: `  state requests, messages, aggregation (${n(objects)} objects)`,
      value:
        `${(stateRequests / f.shards).toFixed(2)} state requests/shard, ${(stateRequests / objects).toFixed(3)}/object (${Object.entries(f.state).map(([k, v]) => `${k} ${n(v)}`).join(", ")}); ` +
        `${(f.messages / objects).toFixed(3)} messages/object; aggregation ${f.aggregationSeconds.toFixed(2)} s (${((1000 * f.aggregationSeconds) / f.shards).toFixed(2)} ms/shard); report ${n(f.reportBytes)} bytes`,
    });

    log(`scale: copying the state status and report read to RGW...`);
    const t0 = Date.now();
    const published = await publish(ctx, new FileStateStore(dir), runId);
    log(`scale: ${n(published)} state objects copied in ${((Date.now() - t0) / 1000).toFixed(0)} s; running the CLI on them...`);
    const bucket = `--state-bucket ${ctx.stateBucket}`;
    const status = await cli(ctx, `status ${runId} ${bucket} --json`);
    const csvFile = join(dir, "ledger.csv");
    const csv = await cli(ctx, `report ${runId} ${bucket} --csv`, csvFile);
    let csvLines = 0;
    for await (const _ of createInterface({ input: createReadStream(csvFile), crlfDelay: Infinity })) csvLines++;
    const htmlFile = join(dir, "report.html");
    const html = await cli(ctx, `report ${runId} ${bucket} --html '${htmlFile}'`);
    const htmlBytes = statSync(htmlFile).size;
    if (csvLines !== objects + 1) throw new Error(`report --csv printed ${csvLines} lines for ${objects} objects`);
    if (!readFileSync(htmlFile, "utf8").includes("</html>")) throw new Error("report --html wrote no page");
    const t = (x: Timed) => ({ seconds: x.seconds, maxRssMiB: x.maxRssMiB });
    row({
      section: "scale",
      what: `  migrate status / report --csv / report --html on that run (state on RGW, each its own process): time, peak RSS`,
      value: `${status.seconds.toFixed(1)} s ${status.maxRssMiB.toFixed(0)} MiB / ${csv.seconds.toFixed(1)} s ${csv.maxRssMiB.toFixed(0)} MiB (${n(csvLines - 1)} ledger lines) / ${html.seconds.toFixed(1)} s ${html.maxRssMiB.toFixed(0)} MiB (page of ${n(htmlBytes)} bytes)`,
    });
    return { ...f, maxRssMiB: r.maxRssMiB, stateRequests, cli: { status: t(status), csv: t(csv), html: t(html) }, csvLines, htmlBytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function scale(ctx: Ctx): Promise<void> {
  const out: SizeFigures[] = [];
  results.scale = out;
  for (const objects of P.scaleObjects) out.push(await one(ctx, objects));
  for (let i = 1; i < out.length; i++) {
    const a = out[i - 1]!;
    const b = out[i]!;
    const x = (v: number) => `x${v.toFixed(2)}`;
    const flat = (ra: number, rb: number) => rb / ra <= 1 + GOALS.scaleFlat;
    const label = `${n(a.objects)} -> ${n(b.objects)} objects (${n(a.shards)} -> ${n(b.shards)} shards)`;
    row({ section: "scale", what: `${label}: run process peak RSS`, value: `${a.maxRssMiB.toFixed(0)} -> ${b.maxRssMiB.toFixed(0)} MiB, ${x(b.maxRssMiB / a.maxRssMiB)}`, goal: `the same within ${GOALS.scaleFlat * 100}%`, met: flat(a.maxRssMiB, b.maxRssMiB) });
    for (const [k, what] of [["status", "migrate status"], ["csv", "migrate report --csv"], ["html", "migrate report --html"]] as const) {
      const ra = a.cli[k].maxRssMiB;
      const rb = b.cli[k].maxRssMiB;
      row({ section: "scale", what: `${label}: ${what} peak RSS`, value: `${ra.toFixed(0)} -> ${rb.toFixed(0)} MiB, ${x(rb / ra)}`, goal: `the same within ${GOALS.scaleFlat * 100}%`, met: flat(ra, rb) });
    }
    const pa = a.stateRequests / a.shards;
    const pb = b.stateRequests / b.shards;
    row({ section: "scale", what: `${label}: state requests per shard`, value: `${pa.toFixed(2)} -> ${pb.toFixed(2)}, ${x(pb / pa)}`, goal: `constant within ${GOALS.scaleFlat * 100}%`, met: Math.abs(pb / pa - 1) <= GOALS.scaleFlat });
    const ma = a.messages / a.objects;
    const mb = b.messages / b.objects;
    row({ section: "scale", what: `${label}: messages per object`, value: `${ma.toFixed(3)} -> ${mb.toFixed(3)}, ${x(mb / ma)}`, goal: `constant within ${GOALS.scaleFlat * 100}%`, met: Math.abs(mb / ma - 1) <= GOALS.scaleFlat });
    const aa = a.aggregationSeconds / a.shards;
    const ab = b.aggregationSeconds / b.shards;
    row({
      section: "scale",
      what: `${label}: aggregation time`,
      value: `${a.aggregationSeconds.toFixed(2)} -> ${b.aggregationSeconds.toFixed(2)} s, ${x(b.aggregationSeconds / a.aggregationSeconds)} for ${x(b.shards / a.shards)} shards (per shard ${x(ab / aa)})`,
      goal: "linear: time per shard within 2x (timings on a shared machine)",
      met: ab / aa <= 2,
    });
    row({ section: "scale", what: `${label}: report size`, value: `${n(a.reportBytes)} -> ${n(b.reportBytes)} bytes`, goal: `the same within ${GOALS.scaleFlat * 100}%`, met: flat(a.reportBytes, b.reportBytes) });
  }
}
