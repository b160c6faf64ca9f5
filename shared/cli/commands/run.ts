import { Command, Option } from "commander";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { loadConfig } from "../../config.ts";
import { BadMessageError, ConfigError } from "../../errors.ts";
import { jsonLogger } from "../../logger.ts";
import { parseMessage, StartRequest } from "../../messages.ts";
import { runLocal } from "../../local/run.ts";
import { readJson } from "../../state/json.ts";
import type { ListingCursor, RunReport } from "../../state/layout.ts";
import { parseAzureUrl, parseS3Url } from "../locations.ts";
import { ProgressView } from "../progress.ts";
import { EXIT } from "../main.ts";
import { parseStorageClass, parseTierMap } from "../../copy/storage-class.ts";
import { requireHdsClass } from "../../provision/hds.ts";

const collect = (value: string, previous: string[] = []) => [...previous, value];

function positiveInt(flag: string) {
  return (value: string) => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new ConfigError(`${flag} must be a positive integer (got "${value.slice(0, 40)}")`);
    return Number(value);
  };
}

function isoDate(flag: string) {
  return (value: string) => {
    const t = Date.parse(value);
    if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(t)) throw new ConfigError(`${flag} must be an ISO 8601 date or date-time (got "${value.slice(0, 40)}")`);
    return new Date(t).toISOString();
  };
}

export function newRunId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
  return `run-${t}-${randomBytes(3).toString("hex")}`;
}

export function printSummary(report: RunReport, write: (s: string) => void): void {
  const o = report.objects;
  write(
    `run ${report.runId}: ${report.status}${report.dryRun ? " (dry run)" : ""}\n` +
      `  objects: ${o.planned} planned, ${o.copied} copied, ${o.skipped} skipped, ${o.failed} failed` +
      (o.archived ? `, ${o.archived} archived` : "") +
      (o.filteredOut ? `, ${o.filteredOut} filtered out` : "") +
      (o.directories ? `, ${o.directories} directories` : "") +
      (o.olderVersions ? `, ${o.olderVersions} older versions not copied` : "") +
      `\n  bytes: ${report.bytes.copied} copied of ${report.bytes.planned} planned in ${report.durationSeconds.toFixed(1)} s` +
      ` (${(report.throughputBytesPerSecond / 1e6).toFixed(1)} MB/s)\n` +
      (report.uploadsAborted ? `  open multipart uploads left by interrupted copies: ${report.uploadsAborted} aborted\n` : "") +
      report.warnings
        .filter((w) => w.key === report.source)
        .map((w) => `  warning: ${w.warning}\n`)
        .join("") +
      (report.failures.length ? `  failures:\n${report.failures.slice(0, 20).map((f) => `    ${f.key}: ${f.reason}`).join("\n")}\n` : "") +
      (report.failures.length > 20 ? `    ... ${report.failures.length - 20} more in the report\n` : "") +
      estimateLines(report) +
      deletionLines(report) +
      `  ledger: ${report.ledger}\n`,
  );
}

/** The dry run's cost estimate, said to be one. */
function estimateLines(report: RunReport): string {
  const e = report.estimate;
  if (!e) return "";
  const classes = Object.entries(e.scaleway.monthlyCostByClass).map(([c, v]) => `${c} ${e.scaleway.storageGiBByClass[c]} GiB ${v.toFixed(2)}`).join(", ");
  return (
    `  estimate (not a quote): Azure read-out ${e.azure.egressGiB.toFixed(2)} GiB, ${e.azure.readOperations} reads, ${e.azure.listOperations} lists: about ${e.azure.total.toFixed(2)} USD\n` +
    `    Scaleway storage about ${e.scaleway.monthlyTotal.toFixed(2)} EUR a month (${classes || "nothing"}); prices and caveats in the JSON report\n`
  );
}

/** The cutover pass (--delete-extraneous): counts, and in a dry run every key a real run would delete. */
function deletionLines(report: RunReport): string {
  const d = report.deletions;
  if (!d) return "";
  let out = report.dryRun
    ? `  delete-extraneous (dry run): ${d.wouldDelete?.length ?? 0} would be deleted` + (d.unmanagedKept ? `, ${d.unmanagedKept} without markers kept` : "") + "\n"
    : `  delete-extraneous: ${d.deleted} deleted, ${d.failed} failed` + (d.unmanagedKept ? `, ${d.unmanagedKept} without markers kept` : "") + "\n";
  if (d.skipped) out += `    ${d.skipped}\n`;
  for (const key of d.wouldDelete ?? []) out += `    would delete ${JSON.stringify(key)}\n`;
  return out;
}

/** The flags that make a start request, shared by `run` and `start`. */
export function withRequestOptions(cmd: Command): Command {
  return cmd
    .requiredOption("--from <url>", "source, azure://CONTAINER[/PREFIX]")
    .requiredOption("--to <url>", "destination, s3://BUCKET[/PREFIX]")
    .option("--run-id <id>", "run id; the id of an interrupted run resumes it")
    .option("--dry-run", "plan and report what would be copied, copy nothing", false)
    .option("--include <glob>", "copy only blobs matching this glob (repeatable)", collect, [])
    .option("--exclude <glob>", "skip blobs matching this glob (repeatable)", collect, [])
    .option("--modified-since <iso8601>", "copy only blobs modified at or after this time", isoDate("--modified-since"))
    .option("--modified-before <iso8601>", "copy only blobs modified before this time", isoDate("--modified-before"))
    .option("--concurrency <n>", "objects copied at once per worker", positiveInt("--concurrency"))
    .option("--shard-objects <n>", "objects per shard", positiveInt("--shard-objects"))
    .option("--force", "copy even objects that look unchanged; with S3_SSE_C_KEY, also when the destination was written under another key", false)
    .option("--verify-readback", "stream every copied object back from the destination (with the SSE-C key) and compare its MD5 with the source's", false)
    .option("--hds", "the destination is an HDS bucket (health data): it must exist, in fr-par; no lifecycle rule, no GLACIER", false)
    .option("--delete-extraneous", "after every object copied, delete destination keys under the prefix that have no source blob (only those with the tool's markers)", false)
    .option("--max-delete <n>", "with --delete-extraneous: stop, deleting nothing, when more than N keys would be deleted (default 1000)", nonNegativeInt("--max-delete"))
    .option("--delete-unmanaged", "with --delete-extraneous: also delete keys without the tool's markers", false)
    .option("--storage-class <class>", "storage class of every copied object: STANDARD, ONEZONE_IA or GLACIER (default: the bucket's, STANDARD)", (v: string) => parseStorageClass(v, "--storage-class"))
    .option("--price-egress-gib <usd>", "dry-run estimate: Azure outbound transfer price per GiB (USD)", price("--price-egress-gib"))
    .option("--price-read-10k <usd>", "dry-run estimate: Azure read operations price per 10,000 (USD)", price("--price-read-10k"))
    .option("--price-storage <map>", "dry-run estimate: Scaleway storage price per GiB-month by class, e.g. STANDARD=0.0146,ONEZONE_IA=0.0076 (EUR)", parseStoragePrices)
    .option("--directory-markers", "write ADLS Gen2 directory placeholders as `dir/` keys instead of skipping them", false)
    .option("--require-immutability", "fail blobs under legal hold or a retention policy that the destination can not lock; refuse a destination bucket without Object Lock", false)
    .addOption(
      new Option("--source-md5 <mode>", "verify: a source Content-MD5 that differs from the bytes fails the object; ignore: copy it, verified by our own hashes, and note a stale one in the ledger")
        .choices(["verify", "ignore"])
        .default("verify"),
    )
    .option("--tier-map <map>", "storage class per Azure access tier, e.g. Hot=STANDARD,Cool=ONEZONE_IA,Cold=ONEZONE_IA (wins over --storage-class)", parseTierMap);
}

function price(flag: string) {
  return (value: string) => {
    const n = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n)) throw new ConfigError(`${flag} must be a non-negative number (got "${value.slice(0, 40)}")`);
    return n;
  };
}

function parseStoragePrices(raw: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pair of raw.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [cls, value] = pair.split("=");
    out[parseStorageClass(cls ?? "", "--price-storage")] = price(`--price-storage ${cls}`)(value ?? "");
  }
  return out;
}

function nonNegativeInt(flag: string) {
  return (value: string) => {
    if (!/^\d+$/.test(value)) throw new ConfigError(`${flag} must be a non-negative integer (got "${value.slice(0, 40)}")`);
    return Number(value);
  };
}

export function requestFromOptions(opts: Record<string, any>): StartRequest {
  if ((opts.maxDelete !== undefined || opts.deleteUnmanaged) && !opts.deleteExtraneous) {
    throw new ConfigError(`${opts.maxDelete !== undefined ? "--max-delete" : "--delete-unmanaged"} needs --delete-extraneous`);
  }
  if (opts.hds) {
    requireHdsClass(opts.storageClass, "--storage-class");
    for (const [tier, cls] of Object.entries((opts.tierMap ?? {}) as Record<string, string>)) requireHdsClass(cls, `--tier-map ${tier}`);
  }
  const from = parseAzureUrl(opts.from, "--from");
  const to = parseS3Url(opts.to, "--to");
  try {
    return parseMessage(StartRequest, {
      v: 1,
      type: "start",
      runId: opts.runId ?? newRunId(),
      source: { container: from.container, prefix: from.prefix },
      destination: { bucket: to.bucket, prefix: to.prefix },
      options: {
        include: opts.include,
        exclude: opts.exclude,
        modifiedSince: opts.modifiedSince,
        modifiedBefore: opts.modifiedBefore,
        dryRun: opts.dryRun,
        concurrency: opts.concurrency,
        shardMaxObjects: opts.shardObjects,
        force: opts.force,
        ...(opts.verifyReadback ? { verifyReadback: true } : {}),
        ...(opts.hds ? { hds: true } : {}),
        ...(opts.deleteExtraneous ? { deleteExtraneous: true, maxDelete: opts.maxDelete ?? 1000 } : {}),
        ...(opts.deleteUnmanaged ? { deleteUnmanaged: true } : {}),
        ...(opts.storageClass ? { storageClass: opts.storageClass } : {}),
        ...(opts.priceEgressGib !== undefined || opts.priceRead10k !== undefined || opts.priceStorage
          ? {
              prices: {
                ...(opts.priceEgressGib !== undefined ? { egressPerGiB: opts.priceEgressGib } : {}),
                ...(opts.priceRead10k !== undefined ? { readPer10k: opts.priceRead10k } : {}),
                ...(opts.priceStorage ? { storagePerGiBMonth: opts.priceStorage } : {}),
              },
            }
          : {}),
        ...(opts.tierMap ? { tierMap: opts.tierMap } : {}),
        directoryMarkers: opts.directoryMarkers,
        requireImmutability: opts.requireImmutability,
        sourceMd5: opts.sourceMd5,
      },
    });
  } catch (err) {
    if (err instanceof BadMessageError) throw new ConfigError(err.message.replace(/^invalid message: /, "").replace(/^runId/, "--run-id"));
    throw err;
  }
}

export function registerRun(program: Command): void {
  withRequestOptions(program.command("run").description("Run a migration locally: the coordinator and the workers in this process, through the deployed handlers"))
    .option("--report <file>", "write the run report as JSON to this file")
    .addOption(new Option("--queue <kind>", "message transport").choices(["memory", "sqs"]).default("memory"))
    .option("--worker-queues <n>", "number of worker queues", positiveInt("--worker-queues"), 2)
    .option("--json", "print the report as JSON on stdout, no progress display", false)
    .option("--verbose", "structured JSON logs on stderr", false)
    .option("--encrypt-state", "encrypt the run's state objects with the SSE-C key too (every later status/report then needs the key)", false)
    .action(async (opts) => {
      const request = requestFromOptions(opts);
      const config = loadConfig(process.env);
      if (opts.encryptState) {
        if (!config.s3.sseCustomerKey) throw new ConfigError("--encrypt-state needs an SSE-C key: set S3_SSE_C_KEY or S3_SSE_C_KEY_FILE");
        config.s3.encryptState = true;
      }
      const from = request.source;
      const to = request.destination;
      const mode = opts.json ? "none" : process.stderr.isTTY ? "bar" : "lines";
      const view = new ProgressView(mode);
      let poll: NodeJS.Timeout | undefined;
      if (!opts.json) process.stderr.write(`run ${request.runId}: azure://${from.container}/${from.prefix} -> s3://${to.bucket}/${to.prefix}\n`);
      view.start();
      let report: RunReport;
      try {
        report = await runLocal({
          config,
          request,
          queue: opts.queue,
          workerQueues: opts.workerQueues,
          log: opts.verbose ? jsonLogger((l) => process.stderr.write(l + "\n")) : undefined,
          onProgress: view.onEvent,
          onStarted: (deps, stateBucket) => {
            const store = deps.state(stateBucket);
            const key = deps.layout.run(request.runId).listing;
            poll = setInterval(() => {
              void readJson<ListingCursor>(store, key)
                .then((c) => c && view.setTotals({ objects: c.value.planned.objects, bytes: c.value.planned.bytes, listingDone: c.value.done }))
                .catch(() => undefined);
            }, 1000);
          },
        });
      } finally {
        if (poll) clearInterval(poll);
        view.stop();
      }
      if (opts.report) writeFileSync(opts.report, JSON.stringify(report, null, 2) + "\n");
      if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
      else printSummary(report, (s) => process.stdout.write(s));
      process.exitCode = report.status === "succeeded" ? EXIT.ok : EXIT.failed;
    });
}
