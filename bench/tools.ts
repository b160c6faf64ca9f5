/**
 * The two copy tools as child processes: `migrate run` (our CLI, through
 * bin/migrate.js) and rclone 1.60 with a tuned configuration.
 */
import { writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { AccountSASPermissions, AccountSASResourceTypes, AccountSASServices, SASProtocol, StorageSharedKeyCredential, generateAccountSASQueryParameters } from "@azure/storage-blob";
import type { AzuriteServer, S3Server } from "../shared/servers/launch.ts";
import { runTimed, type Timed } from "./proc.ts";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "bin", "migrate.js");

/** Tuning variables (and MIGRATE_NO_BUNDLE, for readable CPU profiles) passed on to `migrate run` when set in the benchmark's environment. */
const TUNING_VARS = ["MIGRATE_NO_BUNDLE", "READ_MODE", "PART_SIZE_MB", "MULTIPART_THRESHOLD_MB", "PART_CONCURRENCY", "OBJECT_CONCURRENCY", "MEMORY_BUDGET_MB", "S3_MAX_SOCKETS", "SHARD_MAX_OBJECTS", "LIST_PAGE_SIZE"];

export function accountSas(azurite: AzuriteServer): string {
  return generateAccountSASQueryParameters(
    {
      expiresOn: new Date(Date.now() + 6 * 3600_000),
      permissions: AccountSASPermissions.parse("rwdlacup"),
      services: AccountSASServices.parse("b").toString(),
      resourceTypes: AccountSASResourceTypes.parse("sco").toString(),
      protocol: SASProtocol.HttpsAndHttp,
    },
    new StorageSharedKeyCredential(azurite.account, azurite.key),
  ).toString();
}

export interface Endpoints {
  /** Azure connection string (may point at a proxy). */
  connectionString: string;
  s3Endpoint: string;
  rgw: S3Server;
  stateBucket: string;
}

export function migrateEnv(e: Endpoints, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    AZURE_STORAGE_CONNECTION_STRING: e.connectionString,
    S3_ENDPOINT: e.s3Endpoint,
    S3_REGION: e.rgw.region,
    S3_ACCESS_KEY_ID: e.rgw.accessKeyId,
    S3_SECRET_ACCESS_KEY: e.rgw.secretAccessKey,
    S3_FORCE_PATH_STYLE: "true",
    STATE_BUCKET: e.stateBucket,
  };
  for (const v of TUNING_VARS) if (process.env[v]) env[v] = process.env[v];
  return { ...env, ...extra };
}

export interface MigrateResult extends Timed {
  report: { status: string; objects: { planned: number; copied: number; skipped: number; failed: number }; bytes: { planned: number; copied: number }; failures: Array<{ key: string; reason: string }>; durationSeconds?: number };
}

/** `migrate run --from azure://FROM --to s3://TO --json [extra]` in a child process. */
export async function runMigrate(from: string, to: string, env: NodeJS.ProcessEnv, extra: string[] = [], nodeFlags: string[] = []): Promise<MigrateResult> {
  const r = await runTimed(process.execPath, [...nodeFlags, BIN, "run", "--from", `azure://${from}`, "--to", `s3://${to}`, "--json", ...extra], env, { cwd: ROOT, timeoutMs: 1_800_000 });
  let report: MigrateResult["report"];
  try {
    report = JSON.parse(r.stdout);
  } catch {
    throw new Error(`migrate run exited ${r.code} without a JSON report: ${r.stderr.slice(-2000)}`);
  }
  return { ...r, report };
}

/**
 * rclone's flags, tuned for this machine and these servers: many transfers and
 * checkers for small objects, 16 MiB chunks uploaded 8 at a time per large
 * object (as our 16 MiB parts), one listing per side (--fast-list), no bucket
 * check. Override with BENCH_RCLONE_FLAGS (space-separated).
 */
export const RCLONE_FLAGS = process.env.BENCH_RCLONE_FLAGS?.trim().split(/\s+/) ?? [
  "--transfers=32",
  "--checkers=32",
  "--s3-chunk-size=16M",
  "--s3-upload-cutoff=16M",
  "--s3-upload-concurrency=8",
  "--azureblob-chunk-size=16M",
  "--buffer-size=16M",
  "--fast-list",
  "--s3-no-check-bucket",
];

/**
 * rclone as a demanding user runs it from the shell (issue 17): for large
 * blobs `--transfers 4 --s3-upload-concurrency 4 --s3-chunk-size 16M`, for
 * small ones `--transfers 16`; for the mix, whose objects are mostly small
 * but whose bytes are mostly large, both together: `--transfers 16` with the
 * large blobs' chunk settings.
 */
export const RCLONE_DEMANDING: Record<"large" | "small" | "mix", string[]> = {
  large: ["--transfers=4", "--s3-upload-concurrency=4", "--s3-chunk-size=16M"],
  small: ["--transfers=16"],
  mix: ["--transfers=16", "--s3-upload-concurrency=4", "--s3-chunk-size=16M"],
};

/** rclone over the WAN profile: many transfers and checkers for small objects (the round trip dominates), the demanding set for large. */
export const RCLONE_WAN: Record<"large" | "small", string[]> = {
  large: RCLONE_DEMANDING.large,
  small: ["--transfers=64", "--checkers=64"],
};

/** Writes rclone.conf with remotes `az` (Azurite by account SAS) and `dst` (RGW); `endpoints` points either side elsewhere (a proxy). */
export function writeRcloneConfig(dir: string, azurite: AzuriteServer, rgw: S3Server, endpoints: { azure?: string; s3?: string; name?: string } = {}): { path: string; text: string } {
  const sas = accountSas(azurite);
  const path = join(dir, endpoints.name ?? "rclone.conf");
  const text = [
    "[az]",
    "type = azureblob",
    `sas_url = ${endpoints.azure ?? azurite.endpoint}?${sas}`,
    "",
    "[dst]",
    "type = s3",
    "provider = Ceph",
    `endpoint = ${endpoints.s3 ?? rgw.endpoint}`,
    `access_key_id = ${rgw.accessKeyId}`,
    `secret_access_key = ${rgw.secretAccessKey}`,
    "force_path_style = true",
    "",
  ].join("\n");
  writeFileSync(path, text, { mode: 0o600 });
  return { path, text: text.replace(/sas_url = (\S+)\?.*/, "sas_url = $1?<account SAS ss=b srt=sco sp=rwdlacup>").replace(/secret_access_key = .*/, "secret_access_key = <secret>") };
}

/** `rclone copy az:FROM dst:TO` with `flags` (the tuned set by default; AWS_CA_BUNDLE unset: it breaks rclone's S3 backend). */
export async function runRclone(config: string, from: string, to: string, flags: string[] = RCLONE_FLAGS): Promise<Timed> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" };
  const r = await runTimed("rclone", ["--config", config, "copy", `az:${from}`, `dst:${to}`, ...flags, "-q"], env, { timeoutMs: 1_800_000 });
  if (r.code !== 0) throw new Error(`rclone failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  return r;
}
