/** The flags that make a start request, shared by `migrate run` and `migrate start`, and the request they make. */
import type { Command } from "commander";
import { randomBytes } from "node:crypto";
import { BadMessageError, ConfigError } from "../errors.ts";
import { parseMessage, StartRequest } from "../messages.ts";
import { parseAzureUrl, parseS3Url } from "../locations.ts";

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function positiveInt(flag: string) {
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
    .option("--force", "copy even objects that look unchanged", false);
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
      },
    });
  } catch (err) {
    if (err instanceof BadMessageError) throw new ConfigError(err.message.replace(/^invalid message: /, "").replace(/^runId/, "--run-id"));
    throw err;
  }
}

