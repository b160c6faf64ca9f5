/**
 * The one reader of the environment: every variable the functions, the CLI
 * and the deploy check use is read, validated and typed here, and a mistake
 * is a ConfigError naming the variable. Nothing else reads process.env.
 */
import { ConfigError } from "./errors.ts";
import { registerSecret } from "./redact.ts";
import { DEFAULT_TUNING, type Tuning } from "./limits.ts";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry.ts";
import { readFileSync } from "node:fs";
import { parseSseCustomerKey, type SseCustomerKey } from "./s3/sse-c.ts";
import type { S3HttpConfig } from "./s3/signed-http.ts";

/** How to reach the Azure source. Exactly one way of authenticating. */
export type AzureConfig =
  | { kind: "connection-string"; connectionString: string }
  | { kind: "shared-key"; accountName: string; accountKey: string; endpoint: string }
  | { kind: "sas"; accountName: string; sasToken: string; endpoint: string }
  /** Entra ID service principal: a client secret, or a certificate (file path or PEM with its private key). */
  | {
      kind: "service-principal";
      accountName: string;
      endpoint: string;
      tenantId: string;
      clientId: string;
      clientSecret?: string;
      certificatePath?: string;
      certificatePem?: string;
      /** Another Entra ID authority (sovereign clouds, a local stand-in); instance discovery is then off. */
      authorityHost?: string;
    };

/** Endpoint, region, keys, addressing and sockets (S3HttpConfig), and the SSE-C key. */
export interface S3Config extends S3HttpConfig {
  /** SSE-C key every data object is written and read with (S3_SSE_C_KEY or S3_SSE_C_KEY_FILE). */
  sseCustomerKey?: SseCustomerKey;
  /** Run state objects are encrypted with the same key too (S3_SSE_C_ENCRYPT_STATE, or `--encrypt-state`). */
  encryptState?: boolean;
}

export interface SqsConfig {
  endpoint?: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface QueueConfig {
  sqs?: SqsConfig;
  workerQueueUrls: string[];
  controlQueueUrl?: string;
}

export interface AppConfig {
  azure: AzureConfig;
  s3: S3Config;
  /** Bucket holding run state; undefined = the run's destination bucket. */
  stateBucket?: string;
  /** Reserved key prefix of run state; never copied or listed as data. */
  statePrefix: string;
  queue: QueueConfig;
  tuning: Tuning;
  /** The one retry policy of every request (Azure, S3, SQS). */
  retry: RetryPolicy;
  /** Deadline of one function invocation, in ms. */
  functionTimeoutMs: number;
  /** Stop starting new work when less than this remains, in ms. */
  deadlineMarginMs: number;
  /** Shared token that authenticates HTTP starts of the coordinator, when set. */
  startToken?: string;
}

export type Env = Record<string, string | undefined>;

export const DEFAULT_STATE_PREFIX = ".migrate-state/";

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer between ${min} and ${max} (got "${raw.slice(0, 40)}")`);
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false (got "${raw.slice(0, 40)}")`);
}

function url(env: Env, name: string): string | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  try {
    const u = new URL(raw);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("scheme");
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL (got "${raw.slice(0, 60)}")`);
  }
  return raw.replace(/\/+$/, "");
}

/** Variables of each way to authenticate to Azure; exactly one way may be given. */
const AZURE_WAYS = {
  "connection string": ["AZURE_STORAGE_CONNECTION_STRING"],
  "account key": ["AZURE_STORAGE_KEY"],
  "SAS token": ["AZURE_STORAGE_SAS_TOKEN"],
  "Entra ID service principal": ["AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PEM"],
} as const;

function accountEndpoint(env: Env, what: string): { account: string; endpoint: string } {
  const account = str(env, "AZURE_STORAGE_ACCOUNT");
  if (!account) throw new ConfigError(`AZURE_STORAGE_ACCOUNT is not set: it is needed with ${what}`);
  if (!/^[a-z0-9]{3,24}$/.test(account)) throw new ConfigError(`AZURE_STORAGE_ACCOUNT must be 3-24 lowercase letters and digits`);
  return { account, endpoint: url(env, "AZURE_STORAGE_BLOB_ENDPOINT") ?? `https://${account}.blob.core.windows.net` };
}

function servicePrincipal(env: Env): AzureConfig {
  const tenantId = str(env, "AZURE_TENANT_ID");
  const clientId = str(env, "AZURE_CLIENT_ID");
  const clientSecret = str(env, "AZURE_CLIENT_SECRET");
  const certificatePath = str(env, "AZURE_CLIENT_CERTIFICATE_PATH");
  // A PEM given in a variable keeps its line breaks; a platform that flattens them to "\n" gets them back.
  const pemRaw = env.AZURE_CLIENT_CERTIFICATE_PEM?.trim() ? env.AZURE_CLIENT_CERTIFICATE_PEM.trim().replace(/\\n/g, "\n") : undefined;
  registerSecret(clientSecret);
  registerSecret(pemRaw);
  for (const line of pemRaw?.split("\n") ?? []) if (line.length >= 16 && !line.startsWith("-----")) registerSecret(line.trim());
  const missing: string[] = [];
  if (!tenantId) missing.push("AZURE_TENANT_ID");
  if (!clientId) missing.push("AZURE_CLIENT_ID");
  const secrets = [clientSecret && "AZURE_CLIENT_SECRET", certificatePath && "AZURE_CLIENT_CERTIFICATE_PATH", pemRaw && "AZURE_CLIENT_CERTIFICATE_PEM"].filter(Boolean);
  if (secrets.length === 0) missing.push("one of AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_CLIENT_CERTIFICATE_PEM");
  if (missing.length > 0) throw new ConfigError(`Entra ID service principal incomplete: ${missing.join(", ")} not set`);
  if (secrets.length > 1) throw new ConfigError(`Entra ID service principal: set only one of ${secrets.join(" and ")}`);
  if (!/^[0-9a-zA-Z.-]{1,100}$/.test(tenantId!)) throw new ConfigError("AZURE_TENANT_ID must be a tenant id (GUID) or domain name");
  if (pemRaw && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pemRaw)) throw new ConfigError("AZURE_CLIENT_CERTIFICATE_PEM must hold the certificate and its private key in PEM");
  const authorityHost = url(env, "AZURE_AUTHORITY_HOST");
  if (authorityHost && !authorityHost.startsWith("https://")) throw new ConfigError("AZURE_AUTHORITY_HOST must be an https:// URL");
  const { account, endpoint } = accountEndpoint(env, "an Entra ID service principal");
  return {
    kind: "service-principal",
    accountName: account,
    endpoint,
    tenantId: tenantId!,
    clientId: clientId!,
    ...(clientSecret ? { clientSecret } : {}),
    ...(certificatePath ? { certificatePath } : {}),
    ...(pemRaw ? { certificatePem: pemRaw } : {}),
    ...(authorityHost ? { authorityHost } : {}),
  };
}

export function loadAzureConfig(env: Env): AzureConfig {
  const given = Object.entries(AZURE_WAYS)
    .filter(([, names]) => names.some((n) => str(env, n) !== undefined))
    .map(([way, names]) => `${way} (${names.filter((n) => str(env, n) !== undefined).join(", ")})`);
  if (given.length > 1) throw new ConfigError(`Azure source: set exactly one way to authenticate, found ${given.length}: ${given.join("; ")}`);
  const cs = str(env, "AZURE_STORAGE_CONNECTION_STRING");
  if (cs) {
    registerSecret(cs);
    const key = /AccountKey=([^;]+)/i.exec(cs)?.[1];
    registerSecret(key);
    const sas = /SharedAccessSignature=([^;]+)/i.exec(cs)?.[1];
    registerSecret(sas);
    if (!/AccountName=|SharedAccessSignature=|UseDevelopmentStorage=true/i.test(cs)) {
      throw new ConfigError("AZURE_STORAGE_CONNECTION_STRING is not a storage connection string (no AccountName or SharedAccessSignature)");
    }
    return { kind: "connection-string", connectionString: cs };
  }
  if (given.length === 1 && given[0]!.startsWith("Entra ID")) return servicePrincipal(env);
  const key = str(env, "AZURE_STORAGE_KEY");
  const sas = str(env, "AZURE_STORAGE_SAS_TOKEN");
  registerSecret(key);
  registerSecret(sas);
  if (!str(env, "AZURE_STORAGE_ACCOUNT") && !key && !sas) {
    throw new ConfigError(
      "Azure source not configured: set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN, or an Entra ID service principal (AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH)",
    );
  }
  if (!key && !sas) {
    throw new ConfigError("AZURE_STORAGE_ACCOUNT is set but no credential is: set AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN, or AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)");
  }
  const { account, endpoint } = accountEndpoint(env, key ? "AZURE_STORAGE_KEY" : "AZURE_STORAGE_SAS_TOKEN");
  if (key) {
    if (!/^[A-Za-z0-9+/=]+$/.test(key)) throw new ConfigError("AZURE_STORAGE_KEY must be a base64 account key");
    return { kind: "shared-key", accountName: account, accountKey: key, endpoint };
  }
  return { kind: "sas", accountName: account, sasToken: sas!.replace(/^\?/, ""), endpoint };
}

export function loadS3Config(env: Env): S3Config {
  const region = str(env, "S3_REGION") ?? "fr-par";
  if (!/^[a-z0-9-]{2,32}$/.test(region)) throw new ConfigError(`S3_REGION must be a region name like fr-par (got "${region.slice(0, 40)}")`);
  const endpoint = url(env, "S3_ENDPOINT") ?? `https://s3.${region}.scw.cloud`;
  const accessKeyId = str(env, "S3_ACCESS_KEY_ID");
  const secretAccessKey = str(env, "S3_SECRET_ACCESS_KEY");
  registerSecret(secretAccessKey);
  if (!accessKeyId) throw new ConfigError("S3_ACCESS_KEY_ID is not set");
  if (!secretAccessKey) throw new ConfigError("S3_SECRET_ACCESS_KEY is not set");
  const sseCustomerKey = loadSseCustomerKey(env);
  const encryptState = bool(env, "S3_SSE_C_ENCRYPT_STATE", false);
  if (encryptState && !sseCustomerKey) throw new ConfigError("S3_SSE_C_ENCRYPT_STATE is set but there is no SSE-C key: set S3_SSE_C_KEY or S3_SSE_C_KEY_FILE");
  return {
    endpoint,
    region,
    accessKeyId,
    secretAccessKey,
    forcePathStyle: bool(env, "S3_FORCE_PATH_STYLE", false),
    maxSockets: int(env, "S3_MAX_SOCKETS", 64, 1, 1024),
    ...(sseCustomerKey ? { sseCustomerKey } : {}),
    ...(encryptState ? { encryptState } : {}),
  };
}

/**
 * The SSE-C key, from S3_SSE_C_KEY (base64) or the file named by S3_SSE_C_KEY_FILE
 * (its base64 text). Errors name the variable and the problem, never the key.
 */
export function loadSseCustomerKey(env: Env): SseCustomerKey | undefined {
  const inline = env.S3_SSE_C_KEY;
  const file = str(env, "S3_SSE_C_KEY_FILE");
  registerSecret(inline?.trim());
  if (inline !== undefined && inline.trim() !== "" && file) throw new ConfigError("S3_SSE_C_KEY and S3_SSE_C_KEY_FILE are both set: set only one");
  let raw: string;
  let from: string;
  if (file) {
    try {
      raw = readFileSync(file, "utf8");
    } catch (err) {
      throw new ConfigError(`S3_SSE_C_KEY_FILE can not be read (${(err as NodeJS.ErrnoException).code ?? "error"}: ${file.slice(0, 200)})`);
    }
    from = `S3_SSE_C_KEY_FILE (${file.slice(0, 200)})`;
    registerSecret(raw.trim());
  } else if (inline !== undefined && inline !== "") {
    raw = inline;
    from = "S3_SSE_C_KEY";
    if (inline.trim() === "") throw new ConfigError("S3_SSE_C_KEY is set but empty");
  } else {
    return undefined;
  }
  const parsed = parseSseCustomerKey(raw);
  if ("problem" in parsed) throw new ConfigError(`${from} must be the base64 of a 32-byte key (e.g. \`openssl rand -base64 32\`): the value ${parsed.problem}`);
  registerSecret(parsed.keyBase64);
  return parsed;
}

export function loadQueueConfig(env: Env, s3: S3Config | undefined): QueueConfig {
  const workerQueueUrls = (str(env, "WORKER_QUEUE_URLS") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const u of workerQueueUrls) {
    try {
      new URL(u);
    } catch {
      throw new ConfigError(`WORKER_QUEUE_URLS must be a comma-separated list of queue URLs (bad entry "${u.slice(0, 60)}")`);
    }
  }
  const controlQueueUrl = url(env, "CONTROL_QUEUE_URL");
  const endpoint = url(env, "SQS_ENDPOINT");
  const accessKeyId = str(env, "SQS_ACCESS_KEY_ID");
  const secretAccessKey = str(env, "SQS_SECRET_ACCESS_KEY");
  registerSecret(secretAccessKey);
  const needsSqs = workerQueueUrls.length > 0 || controlQueueUrl !== undefined;
  if (needsSqs && (!accessKeyId || !secretAccessKey)) {
    throw new ConfigError("SQS_ACCESS_KEY_ID and SQS_SECRET_ACCESS_KEY must be set when WORKER_QUEUE_URLS or CONTROL_QUEUE_URL is");
  }
  const sqs = accessKeyId && secretAccessKey
    ? { endpoint, region: str(env, "SQS_REGION") ?? s3?.region ?? "fr-par", accessKeyId, secretAccessKey }
    : undefined;
  return { sqs, workerQueueUrls, controlQueueUrl };
}

function wholeObjectMd5(env: Env): Tuning["wholeObjectMd5"] {
  const raw = str(env, "WHOLE_OBJECT_MD5") ?? DEFAULT_TUNING.wholeObjectMd5;
  if (raw !== "auto" && raw !== "always") throw new ConfigError(`WHOLE_OBJECT_MD5 must be auto or always (got "${raw.slice(0, 40)}")`);
  return raw;
}

function readMode(env: Env): Tuning["readMode"] {
  const raw = str(env, "READ_MODE") ?? DEFAULT_TUNING.readMode;
  if (raw !== "stream" && raw !== "ranges") throw new ConfigError(`READ_MODE must be stream or ranges (got "${raw.slice(0, 40)}")`);
  return raw;
}

export function loadTuning(env: Env): Tuning {
  const MiB = 1024 * 1024;
  const t: Tuning = {
    partSize: int(env, "PART_SIZE_MB", DEFAULT_TUNING.partSize / MiB, 5, 5120) * MiB,
    multipartThreshold: int(env, "MULTIPART_THRESHOLD_MB", DEFAULT_TUNING.multipartThreshold / MiB, 5, 5120) * MiB,
    partConcurrency: int(env, "PART_CONCURRENCY", DEFAULT_TUNING.partConcurrency, 1, 64),
    objectConcurrency: int(env, "OBJECT_CONCURRENCY", DEFAULT_TUNING.objectConcurrency, 1, 256),
    memoryBudget: int(env, "MEMORY_BUDGET_MB", DEFAULT_TUNING.memoryBudget / MiB, 32, 65536) * MiB,
    maxParts: int(env, "MAX_PARTS", DEFAULT_TUNING.maxParts, 1, 1000),
    shardMaxObjects: int(env, "SHARD_MAX_OBJECTS", DEFAULT_TUNING.shardMaxObjects, 1, 100000),
    shardMaxBytes: int(env, "SHARD_MAX_GB", DEFAULT_TUNING.shardMaxBytes / 1024 ** 3, 1, 100000) * 1024 ** 3,
    giantObjectThreshold: int(env, "GIANT_OBJECT_GB", DEFAULT_TUNING.giantObjectThreshold / 1024 ** 3, 1, 5000) * 1024 ** 3,
    giantRangeBytes: int(env, "GIANT_RANGE_GB", DEFAULT_TUNING.giantRangeBytes / 1024 ** 3, 1, 5000) * 1024 ** 3,
    maxAttempts: int(env, "MAX_ATTEMPTS", DEFAULT_TUNING.maxAttempts, 1, 20),
    listPageSize: int(env, "LIST_PAGE_SIZE", DEFAULT_TUNING.listPageSize, 1, 5000),
    readMode: readMode(env),
    wholeObjectMd5: wholeObjectMd5(env),
    ledgerPartBytes: DEFAULT_TUNING.ledgerPartBytes,
  };
  return t;
}

/** RETRY_BUDGET_SECONDS: how long one request keeps being retried through throttling or an outage. */
export function loadRetryPolicy(env: Env): RetryPolicy {
  return { ...DEFAULT_RETRY_POLICY, budgetMs: int(env, "RETRY_BUDGET_SECONDS", DEFAULT_RETRY_POLICY.budgetMs / 1000, 0, 3600) * 1000 };
}

/** The deployed functions' whole configuration (the CLI commands add the loaders below). Throws ConfigError naming the variable. */
export function loadConfig(env: Env = process.env, options: { requireAzure?: boolean; requireS3?: boolean } = {}): AppConfig {
  const azure = loadAzureConfig(env);
  const s3 = loadS3Config(env);
  const stateBucket = str(env, "STATE_BUCKET");
  if (stateBucket && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(stateBucket)) {
    throw new ConfigError(`STATE_BUCKET is not a valid bucket name (got "${stateBucket.slice(0, 70)}")`);
  }
  const startToken = str(env, "START_TOKEN");
  registerSecret(startToken);
  void options;
  const functionTimeoutMs = int(env, "FUNCTION_TIMEOUT_SECONDS", 900, 10, 3600) * 1000;
  const deadlineMarginMs = int(env, "DEADLINE_MARGIN_SECONDS", 60, 1, 1800) * 1000;
  if (deadlineMarginMs >= functionTimeoutMs / 2) {
    throw new ConfigError("DEADLINE_MARGIN_SECONDS must be less than half of FUNCTION_TIMEOUT_SECONDS, so that every invocation has time to make progress");
  }
  return {
    azure,
    s3,
    stateBucket,
    statePrefix: DEFAULT_STATE_PREFIX,
    queue: loadQueueConfig(env, s3),
    tuning: loadTuning(env),
    retry: loadRetryPolicy(env),
    functionTimeoutMs,
    deadlineMarginMs,
    startToken,
  };
}

/** A key pair given as two variables: both or neither. */
export interface KeyPair {
  accessKeyId: string;
  secretAccessKey: string;
}

function keyPair(env: Env, idName: string, secretName: string): KeyPair | undefined {
  const accessKeyId = str(env, idName);
  const secretAccessKey = str(env, secretName);
  registerSecret(secretAccessKey);
  if (!accessKeyId && !secretAccessKey) return undefined;
  if (!accessKeyId || !secretAccessKey) throw new ConfigError(`set both ${idName} and ${secretName}, or neither`);
  return { accessKeyId, secretAccessKey };
}

/** `migrate status` and `migrate report`: where the run's state is. */
export function loadStateBucket(env: Env, flag: string | undefined): string {
  const bucket = flag ?? str(env, "STATE_BUCKET");
  if (!bucket) throw new ConfigError("--state-bucket is required (the run's destination bucket, or STATE_BUCKET)");
  return bucket;
}

/** `migrate start`: the deployed coordinator's URL and the tokens that let a start through. */
export interface StartEnv {
  coordinatorUrl?: string;
  /** The private function's token (X-Auth-Token). */
  coordinatorToken?: string;
  /** The shared start token (X-Migrate-Token), when deployed with one. */
  startToken?: string;
}

export function loadStartEnv(env: Env): StartEnv {
  const coordinatorToken = str(env, "COORDINATOR_TOKEN");
  const startToken = str(env, "START_TOKEN");
  registerSecret(coordinatorToken);
  registerSecret(startToken);
  return { coordinatorUrl: str(env, "COORDINATOR_URL"), coordinatorToken, startToken };
}

/** `migrate provision`: the Scaleway API key, region and queue credentials. */
export interface ProvisionEnv {
  region: string;
  sqsRegion: string;
  /** SQS_ADMIN_*: the provisioning queue credential, once it exists. */
  admin?: KeyPair;
  /** With --sqs-endpoint: SQS_ADMIN_*, or else SQS_ACCESS_KEY_ID / SQS_SECRET_ACCESS_KEY. */
  sqsCredentials(): KeyPair | undefined;
  /** Without --sqs-endpoint: the IAM API key and project; throws naming what is missing. */
  scaleway(projectFlag: string | undefined): { accessKey: string; secretKey: string; projectId: string; apiUrl?: string };
}

export function loadProvisionEnv(env: Env, regionFlag: string | undefined): ProvisionEnv {
  const region = regionFlag ?? str(env, "SCW_DEFAULT_REGION") ?? str(env, "SCW_REGION") ?? "fr-par";
  const admin = keyPair(env, "SQS_ADMIN_ACCESS_KEY_ID", "SQS_ADMIN_SECRET_ACCESS_KEY");
  return {
    region,
    sqsRegion: str(env, "SQS_REGION") ?? region,
    admin,
    sqsCredentials: () => admin ?? keyPair(env, "SQS_ACCESS_KEY_ID", "SQS_SECRET_ACCESS_KEY"),
    scaleway: (projectFlag) => {
      const accessKey = str(env, "SCW_ACCESS_KEY");
      const secretKey = str(env, "SCW_SECRET_KEY");
      registerSecret(secretKey);
      const projectId = projectFlag ?? str(env, "SCW_DEFAULT_PROJECT_ID") ?? str(env, "SCW_PROJECT_ID");
      if (!accessKey || !secretKey) throw new ConfigError("SCW_ACCESS_KEY and SCW_SECRET_KEY must be set (an IAM API key allowed to manage Queues), or give --sqs-endpoint");
      if (!projectId) throw new ConfigError("no project: give --project-id or set SCW_DEFAULT_PROJECT_ID");
      return { accessKey, secretKey, projectId, apiUrl: str(env, "SCW_API_URL") };
    },
  };
}

/**
 * What `npm run deploy` checks besides the functions' own configuration: the
 * deploy credentials and what serverless.yml turns into triggers.
 */
export interface DeployEnv {
  hasScalewayKey: boolean;
  region: string;
  queuePrefix: string;
  workerQueueCount: number;
  workerQueueUrls: string[];
  controlQueueUrl?: string;
  sqsEndpoint?: string;
  hasSqsCredentials: boolean;
  hasStartToken: boolean;
  stateBucket?: string;
}

export function loadDeployEnv(env: Env): DeployEnv {
  return {
    hasScalewayKey: !!(str(env, "SCW_SECRET_KEY") && str(env, "SCW_DEFAULT_PROJECT_ID")),
    region: str(env, "SCW_REGION") ?? "fr-par",
    queuePrefix: str(env, "QUEUE_PREFIX") ?? "migrate",
    workerQueueCount: Number(str(env, "WORKER_QUEUE_COUNT") ?? "2"),
    workerQueueUrls: (str(env, "WORKER_QUEUE_URLS") ?? "").split(",").map((s) => s.trim()).filter(Boolean),
    controlQueueUrl: str(env, "CONTROL_QUEUE_URL"),
    sqsEndpoint: str(env, "SQS_ENDPOINT"),
    hasSqsCredentials: !!(str(env, "SQS_ACCESS_KEY_ID") && str(env, "SQS_SECRET_ACCESS_KEY")),
    hasStartToken: !!str(env, "START_TOKEN"),
    stateBucket: str(env, "STATE_BUCKET"),
  };
}

/** Every variable that serverless.yml gives the functions as a secret: a ping reports which are set, never their values. */
export const SECRET_VARIABLES = [
  "AZURE_STORAGE_CONNECTION_STRING",
  "AZURE_STORAGE_KEY",
  "AZURE_STORAGE_SAS_TOKEN",
  "AZURE_CLIENT_SECRET",
  "AZURE_CLIENT_CERTIFICATE_PEM",
  "S3_ACCESS_KEY_ID",
  "S3_SECRET_ACCESS_KEY",
  "S3_SSE_C_KEY",
  "SQS_ACCESS_KEY_ID",
  "SQS_SECRET_ACCESS_KEY",
  "START_TOKEN",
] as const;

/**
 * What a function's configuration is made of, as the loaders above read it
 * (defaults applied, so an unset S3_REGION and `fr-par` are the same value):
 * the non-secret routing and tuning values, and the names of the secrets that
 * are set. A deployed function and the operator's shell compute it the same
 * way, so equal values mean the variables reached the function (shared/runtime/fingerprint.ts).
 * A value the loader refuses is `invalid: <why>`; secrets are never read as values.
 */
export interface ConfigValues {
  values: Record<string, string>;
  secretsSet: string[];
  /** SQS_SECRET_ACCESS_KEY, from which the ping signing key is derived (shared/runtime/ping-signature.ts). */
  pingSecret?: string;
}

export function loadConfigValues(env: Env = process.env): ConfigValues {
  const values: Record<string, string> = {};
  const value = (name: string, read: () => string | undefined) => {
    try {
      values[name] = read() ?? "";
    } catch (err) {
      values[name] = `invalid: ${err instanceof ConfigError ? err.message : "unreadable"}`;
    }
  };
  value("AZURE_SOURCE", () => {
    const a = loadAzureConfig(env);
    if (a.kind === "connection-string") return "connection-string";
    if (a.kind === "service-principal") return [a.kind, a.accountName, a.endpoint, a.tenantId, a.clientId, a.authorityHost ?? ""].join(" ");
    return [a.kind, a.accountName, a.endpoint].join(" ");
  });
  const s3Region = str(env, "S3_REGION") ?? "fr-par";
  value("S3_REGION", () => s3Region);
  value("S3_ENDPOINT", () => url(env, "S3_ENDPOINT") ?? `https://s3.${s3Region}.scw.cloud`);
  value("S3_FORCE_PATH_STYLE", () => String(bool(env, "S3_FORCE_PATH_STYLE", false)));
  value("S3_SSE_C_ENCRYPT_STATE", () => String(bool(env, "S3_SSE_C_ENCRYPT_STATE", false)));
  value("STATE_BUCKET", () => str(env, "STATE_BUCKET"));
  value("SQS_ENDPOINT", () => url(env, "SQS_ENDPOINT"));
  value("SQS_REGION", () => str(env, "SQS_REGION") ?? s3Region);
  value("WORKER_QUEUE_URLS", () => (str(env, "WORKER_QUEUE_URLS") ?? "").split(",").map((u) => u.trim()).filter(Boolean).join(","));
  value("CONTROL_QUEUE_URL", () => url(env, "CONTROL_QUEUE_URL"));
  value("DEADLINE_MARGIN_SECONDS", () => String(int(env, "DEADLINE_MARGIN_SECONDS", 60, 1, 1800)));
  value("TUNING", () => JSON.stringify(loadTuning(env)));
  const pingSecret = str(env, "SQS_SECRET_ACCESS_KEY");
  registerSecret(pingSecret);
  return { values, secretsSet: SECRET_VARIABLES.filter((n) => str(env, n) !== undefined), ...(pingSecret ? { pingSecret } : {}) };
}
