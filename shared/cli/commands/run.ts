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
      report.warnings
        .filter((w) => w.key === report.source)
        .map((w) => `  warning: ${w.warning}\n`)
        .join("") +
      (report.failures.length ? `  failures:\n${report.failures.slice(0, 20).map((f) => `    ${f.key}: ${f.reason}`).join("\n")}\n` : "") +
      (report.failures.length > 20 ? `    ... ${report.failures.length - 20} more in the report\n` : "") +
      `  ledger: ${report.ledger}\n`,
  );
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
    .option("--force", "copy even objects that look unchanged", false)
    .option("--directory-markers", "write ADLS Gen2 directory placeholders as `dir/` keys instead of skipping them", false)
    .option("--require-immutability", "fail blobs under legal hold or a retention policy instead of copying them without a lock", false)
    .addOption(
      new Option("--source-md5 <mode>", "verify: a source Content-MD5 that differs from the bytes fails the object; ignore: copy it, verified by our own hashes, and note a stale one in the ledger")
        .choices(["verify", "ignore"])
        .default("verify"),
    );
}

export function requestFromOptions(opts: Record<string, any>): StartRequest {
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
    .action(async (opts) => {
      const request = requestFromOptions(opts);
      const config = loadConfig(process.env);
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
