/**
 * Secrets never leave the process in clear: every log line, report, state object
 * and error message goes through `redact`. Known secret values are registered
 * once by the configuration loader; patterns catch signed URLs and connection
 * strings built by the SDKs.
 */
const secrets = new Set<string>();
/** The secrets, longest first (a secret inside another is replaced after it). */
let longestFirst: string[] = [];

export function registerSecret(value: string | undefined): void {
  if (!value || value.length < 4) return;
  for (const v of variants(value)) secrets.add(v);
  longestFirst = [...secrets].sort((a, b) => b.length - a.length);
}

function variants(value: string): string[] {
  const out = new Set<string>([value]);
  try {
    out.add(encodeURIComponent(value));
    out.add(encodeURIComponent(encodeURIComponent(value)));
    out.add(decodeURIComponent(value));
  } catch {
    /* not URI-decodable: keep the raw value */
  }
  out.add(value.replace(/\+/g, "%2B").replace(/\//g, "%2F").replace(/=/g, "%3D"));
  // A SAS token is also sensitive piece by piece: its signature.
  const sig = /(?:^|[?&])sig=([^&]+)/.exec(value);
  if (sig) for (const v of variants(sig[1]!)) out.add(v);
  return [...out].filter((v) => v.length >= 4);
}

const PATTERNS: Array<[RegExp, string]> = [
  [/(AccountKey=)[^;"'\s]+/gi, "$1[REDACTED]"],
  [/(SharedAccessSignature=)[^;"'\s]+/gi, "$1[REDACTED]"],
  [/([?&]sig=)[^&"'\s]+/gi, "$1[REDACTED]"],
  [/(X-Amz-Signature=)[^&"'\s]+/gi, "$1[REDACTED]"],
  [/(X-Amz-Credential=)[^&"'\s]+/gi, "$1[REDACTED]"],
  [/(Signature=)[0-9a-f]{16,}/gi, "$1[REDACTED]"],
  [/(SharedKey [^:\s]+:)[^\s"',]+/gi, "$1[REDACTED]"],
];

/** Text none of PATTERNS can match: one scan instead of one per pattern (state objects are redacted whole, megabytes of them a minute). */
const ANY_PATTERN = /accountkey=|sharedaccesssignature=|sig=|signature=|x-amz-credential=|sharedkey /i;

export function redact(text: string): string {
  let out = text;
  for (const s of longestFirst) {
    if (out.includes(s)) out = out.split(s).join("[REDACTED]");
  }
  if (!ANY_PATTERN.test(out)) return out;
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  return out;
}

/** A short, safe description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown; statusCode?: unknown; $metadata?: { httpStatusCode?: number } };
    const status = e.statusCode ?? e.$metadata?.httpStatusCode;
    const code = typeof e.code === "string" ? e.code : e.name;
    const parts = [code && code !== "Error" ? code : undefined, status ? `HTTP ${status}` : undefined, e.message?.split("\n")[0]];
    return redact(parts.filter(Boolean).join(": ").slice(0, 500));
  }
  return redact(String(err).slice(0, 500));
}
