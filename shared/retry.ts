/**
 * The one place that decides what an error means for Azure, S3 and the network,
 * and the one retry loop built on that decision. Coordinator, worker and copy
 * engine all use these two, so a throttled request is treated the same way
 * wherever it happens.
 */
import { BlobArchivedError, PreconditionFailedError, SourceChangedError } from "./errors.ts";

/**
 * - retryable: throttling, server-side hiccups, timeouts, resets; try again later.
 * - permanent: trying again gives the same answer (403, InvalidPart, bad request...).
 * - source-changed: the blob no longer has the version the copy was pinned to (412).
 * - archived: the blob is in the archive tier; it must be rehydrated first.
 * - gone: the thing addressed no longer exists (NoSuchUpload, NoSuchKey, 404).
 */
export type ErrorClass = "retryable" | "permanent" | "source-changed" | "archived" | "gone";

const RETRYABLE_CODES = new Set([
  // Azure
  "ServerBusy",
  "OperationTimedOut",
  // S3 (InternalError is both)
  "InternalError",
  "SlowDown",
  "ServiceUnavailable",
  "RequestTimeout",
  "RequestTimeTooSkewed",
  "Throttling",
  "ThrottlingException",
  "TooManyRequests",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "InternalFailure",
  // A Content-MD5 the server computed differently: the bytes changed on the wire; sending the same buffer again is the cure.
  "BadDigest",
  // Network, Node and SDK transport codes
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "ERR_STREAM_PREMATURE_CLOSE",
  "REQUEST_SEND_ERROR",
  "TimeoutError",
  "RequestTimeoutException",
  // @azure/storage-blob reports a response body cut mid-stream as "AbortError: The operation was aborted."
  // Our own deadline never reaches the SDKs' requests; withRetry stops on its own signal before this matters.
  "AbortError",
]);

const GONE_CODES = new Set(["NoSuchUpload", "NoSuchKey", "NotFound", "BlobNotFound"]);

const PERMANENT_CODES = new Set([
  "InvalidPart",
  "InvalidPartOrder",
  "EntityTooSmall",
  "EntityTooLarge",
  "AccessDenied",
  "AuthorizationFailure",
  "AuthenticationFailed",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "NoSuchBucket",
  "ContainerNotFound",
  "InvalidArgument",
  "InvalidRequest",
  "MetadataTooLarge",
  "InvalidTag",
  "MalformedXML",
]);

const NETWORK_MESSAGES = /socket hang up|premature close|aborted|ECONNRESET|ETIMEDOUT|EPIPE|network|other side closed|read ECONN|received less data|Data corruption failure/i;

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  details?: { errorCode?: unknown };
}

function fields(err: unknown): { name?: string; code?: string; status?: number; message: string; cause?: unknown } {
  if (typeof err !== "object" || err === null) return { message: String(err) };
  const e = err as ErrorLike;
  const status = typeof e.statusCode === "number" ? e.statusCode : e.$metadata?.httpStatusCode;
  const code =
    typeof e.code === "string" ? e.code : typeof e.details?.errorCode === "string" ? e.details.errorCode : undefined;
  return {
    name: typeof e.name === "string" ? e.name : undefined,
    code,
    status,
    message: typeof e.message === "string" ? e.message : "",
    cause: e.cause,
  };
}

/** What to do with an error. Unknown errors are permanent: retrying a programming error only hides it. */
export function classify(err: unknown): ErrorClass {
  if (err instanceof SourceChangedError) return "source-changed";
  if (err instanceof BlobArchivedError) return "archived";
  // A lost conditional write of our own state is not a changed source blob.
  if (err instanceof PreconditionFailedError) return "permanent";
  const { name, code, status, message, cause } = fields(err);
  const ids = [code, name].filter((v): v is string => typeof v === "string" && v !== "Error" && v !== "RestError");

  if (ids.includes("BlobArchived") || (status === 409 && /archive/i.test(message))) return "archived";
  if (ids.includes("ConditionNotMet") || (status === 412 && !ids.includes("PreconditionFailed"))) return "source-changed";
  if (ids.includes("PreconditionFailed")) return "permanent";
  if (ids.some((id) => GONE_CODES.has(id))) return "gone";
  if (ids.some((id) => PERMANENT_CODES.has(id))) return "permanent";
  if (ids.some((id) => RETRYABLE_CODES.has(id))) return "retryable";
  if (status !== undefined) {
    if (status === 429 || status === 408 || status >= 500) return "retryable";
    if (status === 404) return "gone";
    if (status >= 400) return "permanent";
  }
  if (NETWORK_MESSAGES.test(message)) return "retryable";
  // Some transports wrap the socket error; look one level down.
  if (cause !== undefined && cause !== err && typeof cause === "object") {
    const inner = classify(cause);
    if (inner !== "permanent") return inner;
  }
  return "permanent";
}

/**
 * The one retry policy of every request the tool makes (Azure, S3 data and state,
 * SQS): retryable answers are tried again with exponential backoff and full
 * jitter until `budgetMs` has passed since the first try. The budget is in time,
 * not in tries, so a throttling storm or a short outage (a front end restarting,
 * connections refused for half a minute) is ridden through, while what retrying
 * cannot fix fails at once.
 */
export interface RetryPolicy {
  /** Time from the first try after which a retryable error is final, in ms. */
  budgetMs: number;
  /** First backoff ceiling in ms; doubles each try. */
  baseMs: number;
  /** Ceiling of one wait, in ms. */
  maxMs: number;
}

/** RETRY_BUDGET_SECONDS (default 120) sets `budgetMs`; see README "Reliability". */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { budgetMs: 120_000, baseMs: 200, maxMs: 10_000 };

export interface RetryOptions {
  /** Total tries, first included (>= 1). Without it, only the policy's time budget bounds the tries. */
  attempts?: number;
  /** Time budget and backoff; without it, `attempts` tries with the default backoff and no time bound. */
  policy?: RetryPolicy;
  /** Cuts the waits between tries; the error of the last try is thrown. */
  signal?: AbortSignal;
  /** Called before each new try with the error that caused it. */
  onRetry?: (info: { attempt: number; error: unknown; delayMs: number }) => void;
  /** First backoff ceiling in ms; doubles each try (overrides the policy's). */
  baseMs?: number;
  /** Ceiling of one wait, in ms (overrides the policy's). */
  maxMs?: number;
  /** Override of `classify` for callers with extra knowledge; retries only "retryable". */
  classify?: (err: unknown) => ErrorClass;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * Runs `fn` until it succeeds, a non-retryable error occurs, `attempts` are
 * used, or the next wait would end past the policy's time budget. Waits use
 * exponential backoff with full jitter (a random delay in
 * [0, min(maxMs, baseMs * 2^n)]) so throttled clients spread out instead of
 * retrying in step.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const attempts = options.attempts === undefined ? (options.policy ? Infinity : 1) : Math.max(1, Math.floor(options.attempts));
  const baseMs = options.baseMs ?? options.policy?.baseMs ?? 200;
  const maxMs = options.maxMs ?? options.policy?.maxMs ?? 20_000;
  const budgetMs = options.policy?.budgetMs ?? Infinity;
  const decide = options.classify ?? classify;
  const now = options.now ?? Date.now;
  const started = now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || decide(err) !== "retryable" || options.signal?.aborted) throw err;
      const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
      const left = started + budgetMs - now();
      if (left <= 0) throw err;
      // The last wait is cut to what the budget has left, so a try still happens at its end.
      const delayMs = Math.min(Math.floor(Math.random() * ceiling), left);
      options.onRetry?.({ attempt: attempt + 1, error: err, delayMs });
      const slept = await sleep(delayMs, options.signal);
      if (!slept) throw err;
    }
  }
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (value: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(value);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The final error answered with an HTTP status (the server is there), as opposed to a transport failure. */
export function answeredStatus(err: unknown): number | undefined {
  const e = err as { statusCode?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const s = typeof e?.statusCode === "number" ? e.statusCode : e?.$metadata?.httpStatusCode;
  return typeof s === "number" ? s : undefined;
}
