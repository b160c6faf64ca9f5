/**
 * Each deployed function, pinged over HTTP (its URL from the Functions API,
 * a short-lived namespace token for the private functions, the ping signed
 * with the queue credential's secret): does it load its bundle, run this
 * version, and hold the configuration the operator exported? The answer's
 * fingerprint is compared with the one computed here from the same exports,
 * and each access check the function ran on itself becomes a line.
 */
import { randomUUID } from "node:crypto";
import type { Ping } from "../messages.ts";
import { describeError, redact } from "../redact.ts";
import { fingerprintDifferences, type ConfigFingerprint } from "../runtime/fingerprint.ts";
import type { FunctionName, PingAnswer } from "../runtime/ping.ts";
import type { AccessCheck } from "../runtime/access-checks.ts";
import { signPing, type PingFields } from "../runtime/ping-signature.ts";
import type { Check } from "./deployment.ts";

/** A function's domain as the API gives it (a bare host); loopback hosts are a local stand-in, served over plain HTTP. */
export function functionUrl(domainName: string): string {
  if (/^https?:\/\//.test(domainName)) return domainName.replace(/\/*$/, "/");
  const host = domainName.replace(/\/+$/, "");
  return /^(127\.0\.0\.1|localhost)(:\d+)?$/.test(host) ? `http://${host}/` : `https://${host}/`;
}

export function signedPing(fields: PingFields, secret: string): Ping {
  return { v: 1, type: "ping", ...fields, sig: signPing(fields, secret) } as Ping;
}

export const newPingId = () => `doctor-${randomUUID()}`;

export interface FunctionPingOptions {
  id: string;
  /** SQS_SECRET_ACCESS_KEY: signs the ping. */
  secret: string;
  /** The namespace token for private functions (X-Auth-Token). */
  token?: string;
  version: string;
  /** The fingerprint each function should answer, from the operator's exports. */
  expected: Record<FunctionName, ConfigFingerprint>;
  probe?: PingFields["probe"];
  /** Queue names, to name the queues of the functions' own checks. */
  queues: { workers: string[]; control: string };
  timeoutMs: number;
}

const ACCESS_FIX: Record<AccessCheck["kind"], string> = {
  source: "the functions' Azure credential needs read and list on the container: a SAS with sp=rl, or the role Storage Blob Data Reader",
  bucket: "the functions' Object Storage key (S3_ACCESS_KEY_ID) needs ObjectStorageObjectsWrite and ObjectStorageObjectsDelete on this bucket",
  queue: "the functions' queue credential (SQS_ACCESS_KEY_ID) needs publish rights: the <prefix>-functions credential that migrate provision creates has them",
};

/** One line per access check a function ran on itself. */
function accessLines(fn: FunctionName, checks: AccessCheck[], queues: FunctionPingOptions["queues"]): Check[] {
  return checks.map((c) => {
    const target = c.queue ? `queue ${c.queue.kind === "control" ? queues.control : (queues.workers[c.queue.index] ?? c.target)}` : c.target;
    const verb = c.kind === "source" ? "list" : c.kind === "bucket" ? "write and delete in" : "send to";
    return c.ok ? { ok: true, what: `function ${fn} can ${verb} ${target} (${c.detail})` } : { ok: false, what: `function ${fn} can not ${verb} ${target} (${c.detail})`, fix: ACCESS_FIX[c.kind] };
  });
}

export interface FunctionPingResult {
  checks: Check[];
  /** What each function answered, when it answered. */
  answers: Partial<Record<FunctionName, PingAnswer>>;
}

export async function pingFunctions(functions: Array<{ name: FunctionName; domainName: string }>, options: FunctionPingOptions): Promise<FunctionPingResult> {
  const checks: Check[] = [];
  const answers: FunctionPingResult["answers"] = {};
  for (const fn of functions) {
    const url = functionUrl(fn.domainName);
    const ping = signedPing({ id: options.id, at: new Date().toISOString(), reply: "http", ...(options.probe ? { probe: options.probe } : {}) }, options.secret);
    const headers: Record<string, string> = { "content-type": "application/json", "X-Migrate-Client": "migrate-doctor" };
    if (options.token) headers["X-Auth-Token"] = options.token;
    let status: number;
    let text: string;
    try {
      const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(ping), signal: AbortSignal.timeout(options.timeoutMs) });
      status = res.status;
      text = await res.text();
    } catch (err) {
      checks.push({ ok: false, what: `function ${fn.name} does not answer at ${url} (${describeError(err)})`, fix: `check \`npx serverless logs --function ${fn.name}\`` });
      continue;
    }
    let body: (PingAnswer & { error?: string }) | undefined;
    try {
      body = JSON.parse(text) as PingAnswer & { error?: string };
    } catch {
      body = undefined;
    }
    if (status === 401 || status === 403) {
      checks.push({
        ok: false,
        what: `function ${fn.name} refused the ping (${status}${body?.error ? `: ${body.error}` : ""})`,
        fix: status === 401 ? "the functions' SQS_SECRET_ACCESS_KEY must be the one you exported: export it and run npm run deploy" : "the namespace token was not accepted: check your SCW_SECRET_KEY's rights (FunctionsFullAccess)",
      });
      continue;
    }
    if (status >= 300 || !body || typeof body.version !== "string" || !body.config) {
      checks.push({ ok: false, what: `function ${fn.name} answered the ping with ${status}: ${redact(text.slice(0, 200))}`, fix: `check \`npx serverless logs --function ${fn.name}\`` });
      continue;
    }
    answers[fn.name] = body;
    checks.push(
      body.version === options.version
        ? { ok: true, what: `function ${fn.name} answers the ping: version ${body.version}` }
        : { ok: false, what: `function ${fn.name} runs version ${body.version}, yours is ${options.version}`, fix: "run npm run deploy from this checkout" },
    );
    if (body.configError) {
      checks.push({ ok: false, what: `function ${fn.name} can not load its configuration: ${body.configError}`, fix: "export what it names and run npm run deploy" });
    }
    const expected = options.expected[fn.name];
    const differences = fingerprintDifferences(expected, body.config);
    checks.push(
      differences.length === 0 && body.config.hash === expected.hash
        ? { ok: true, what: `function ${fn.name} loaded your configuration (fingerprint ${expected.hash.slice(0, 12)}): variables and secrets reached it` }
        : {
            ok: false,
            what: `function ${fn.name}'s configuration differs from yours (fingerprint ${body.config.hash.slice(0, 12)}, yours ${expected.hash.slice(0, 12)}): ${differences.join("; ") || "values differ"}`,
            fix: "run npm run deploy with your current exports",
          },
    );
    if (options.probe && !body.configError) {
      if (Array.isArray(body.checks)) checks.push(...accessLines(fn.name, body.checks, options.queues));
      else checks.push({ ok: false, what: `function ${fn.name} ran no access check`, fix: "run npm run deploy from this checkout" });
    }
  }
  return { checks, answers };
}
