/** The flags that make a start request, shared by `migrate run` and `migrate start`, and the request they make. */
import { Option, type Command } from "commander";
import { randomBytes } from "node:crypto";
import { BadMessageError, ConfigError } from "../errors.ts";
import { parseMessage, StartRequest } from "../messages.ts";
import { parseAzureUrl, parseS3Url } from "../locations.ts";
import { parseStorageClass, parseTierMap } from "../copy/storage-class.ts";
import { requireHdsClass } from "../provision/hds.ts";

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
