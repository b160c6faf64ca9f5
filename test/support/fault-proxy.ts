/**
 * A fault-injecting reverse proxy for tests: put it between an SDK client and a
 * real local server (Azurite, Ceph RGW) and it forwards every request unchanged
 * except the ones its rules pick, which get a throttling or server error, a
 * connection reset in the middle of a body, or a delay.
 *
 * Requests are forwarded byte for byte with the client's own Host header:
 * Azure SharedKey and S3 SigV4 signatures cover the host and path the client
 * used, so rewriting either would turn every request into a 403.
 *
 * Which requests are hit is drawn from a seeded PRNG, so a failing run can be
 * replayed with the same seed (exactly, when requests arrive in the same order).
 */
import type { Readable, Writable } from "node:stream";
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { randomUUID } from "node:crypto";

export type Fault =
  /** 503: S3 `SlowDown`, Azure `ServerBusy`. */
  | { kind: "slow-down" }
  /** 429 `TooManyRequests`. */
  | { kind: "too-many-requests" }
  /** 500 `InternalError`. */
  | { kind: "internal-error" }
  /** 403: Azure `AuthorizationPermissionMismatch` (an identity without that permission, e.g. tags), S3 `AccessDenied`. */
  | { kind: "permission-mismatch" }
  /** Any error answer, in the request's dialect: e.g. 409 `BlobUsesCustomerSpecifiedEncryption`. */
  | { kind: "error"; status: number; code: string; message?: string }
  /**
   * Forward, send the response headers and half of the body, then destroy the connection.
   * A response without a body (HEAD, empty) is cut before its headers.
   */
  | { kind: "reset-response" }
  /** Forward half of the request body, then destroy both connections without answering (at once when there is no body). */
  | { kind: "reset-request" }
  /** Hold the request this long before forwarding it. */
  | { kind: "delay"; ms: number };

export type FaultKind = Fault["kind"];

export interface FaultRule {
  fault: Fault;
  /** Share of the matching requests that get the fault, 0..1. Default 1. */
  rate?: number;
  /** Only these methods (upper case). Default: any. */
  methods?: string[];
  /** Only requests whose path and query, as sent (percent-encoded), match. */
  path?: RegExp;
  /** At most this many injections by this rule. Default: unlimited. */
  count?: number;
}

export interface FaultProxyOptions {
  /** The real server, e.g. "http://127.0.0.1:10000". */
  target: string;
  rules?: FaultRule[];
  /** PRNG seed; the same seed and request order give the same faults. */
  seed?: number;
  /** Called with the method and path (as sent) of every request received. */
  onRequest?: (method: string, path: string) => void;
  /** Error body dialect; by default guessed per request from its headers. */
  flavour?: "s3" | "azure";
}

export interface FaultProxyStats {
  /** Requests received from clients. */
  requests: number;
  /** Requests sent on to the target, whole or cut (every request but the status-code faults). */
  forwarded: number;
  /** Injections per fault kind. */
  faults: Record<FaultKind, number>;
}

export interface FaultProxy {
  /** "http://127.0.0.1:PORT": give it to the client factories as the endpoint. */
  endpoint: string;
  /** Live counters. */
  readonly stats: FaultProxyStats;
  /** Replaces the rules; their counts start again. */
  setRules(rules: FaultRule[]): void;
  /** Closes the listener and every open connection. Idempotent. */
  stop(): Promise<void>;
}

/** mulberry32: tiny, fast and good enough to pick requests reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Headers that describe one connection, not the message: never forwarded. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "expect"]);

function forwardable(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

const ERRORS = {
  "slow-down": { status: 503, s3: ["SlowDown", "Please reduce your request rate."], azure: ["ServerBusy", "The server is busy."] },
  "too-many-requests": { status: 429, s3: ["TooManyRequests", "Too many requests."], azure: ["TooManyRequests", "Too many requests."] },
  "internal-error": { status: 500, s3: ["InternalError", "We encountered an internal error. Please try again."], azure: ["InternalError", "The server encountered an internal error. Please retry the request."] },
  "permission-mismatch": { status: 403, s3: ["AccessDenied", "Access Denied"], azure: ["AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission."] },
} as const;

function isAzure(req: IncomingMessage): boolean {
  return req.headers["x-ms-version"] !== undefined || req.headers["x-ms-date"] !== undefined || /^SharedKey /.test(req.headers.authorization ?? "");
}

/** An error as each service writes it, so the SDKs parse the same code they would in production. */
function sendError(req: IncomingMessage, res: ServerResponse, fault: Extract<Fault, { kind: keyof typeof ERRORS | "error" }>, flavour: "s3" | "azure" | undefined): void {
  const spec = fault.kind === "error" ? { status: fault.status, azure: [fault.code, fault.message ?? fault.code], s3: [fault.code, fault.message ?? fault.code] } : ERRORS[fault.kind];
  const requestId = randomUUID();
  const azure = (flavour ?? (isAzure(req) ? "azure" : "s3")) === "azure";
  const [code, message] = azure ? spec.azure : spec.s3;
  const body = azure
    ? `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}\nRequestId:${requestId}\nTime:${new Date().toISOString()}</Message></Error>`
    : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${requestId}</RequestId></Error>`;
  const headers: Record<string, string | number> = azure
    ? { "content-type": "application/xml", "x-ms-error-code": code, "x-ms-request-id": requestId }
    : { "content-type": "application/xml", "x-amz-request-id": requestId };
  // A HEAD answer has no body; its length would make the client wait for bytes that never come.
  if (req.method === "HEAD") {
    res.writeHead(spec.status, headers).end();
    return;
  }
  res.writeHead(spec.status, { ...headers, "content-length": Buffer.byteLength(body) }).end(body);
}

/**
 * Forwards the first half of a body (of `length` bytes, or half the first chunk
 * when the length is unknown), then calls `cut` once that half is written.
 */
function forwardHalf(from: Readable, to: Writable, length: number | undefined, cut: () => void): void {
  let cutAt = length !== undefined ? Math.floor(length / 2) : undefined;
  let sent = 0;
  from.on("data", (chunk: Buffer) => {
    if (cutAt === undefined) cutAt = Math.max(1, Math.floor(chunk.length / 2));
    const room = cutAt - sent;
    if (room <= 0) return;
    const part = chunk.subarray(0, room);
    sent += part.length;
    if (sent >= cutAt) {
      from.pause();
      to.write(part, cut);
    } else to.write(part);
  });
  from.on("end", cut);
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  if (target.protocol !== "http:") throw new Error("fault proxy: the target must be an http:// URL");
  const random = prng(options.seed ?? 1);
  const stats: FaultProxyStats = {
    requests: 0,
    forwarded: 0,
    faults: { "slow-down": 0, "too-many-requests": 0, "internal-error": 0, "permission-mismatch": 0, error: 0, "reset-response": 0, "reset-request": 0, delay: 0 },
  };
  let rules: Array<{ rule: FaultRule; used: number }> = [];
  const setRules = (next: FaultRule[]) => {
    rules = next.map((rule) => ({ rule, used: 0 }));
  };
  setRules(options.rules ?? []);

  const pick = (req: IncomingMessage): Fault | undefined => {
    for (const r of rules) {
      const { rule } = r;
      if (rule.methods && !rule.methods.includes(req.method ?? "")) continue;
      if (rule.path && !rule.path.test(req.url ?? "")) continue;
      if (rule.count !== undefined && r.used >= rule.count) continue;
      // One draw per matching rule, so the sequence depends only on the seed and the requests.
      if (random() >= (rule.rate ?? 1)) continue;
      r.used++;
      stats.faults[rule.fault.kind]++;
      return rule.fault;
    }
    return undefined;
  };

  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  const forward = (req: IncomingMessage, res: ServerResponse, fault: Fault | undefined) => {
    stats.forwarded++;
    const upstream = httpRequest({
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      // Raw names and order, Host as the client sent it: the signature covers it.
      headers: forwardable(req.rawHeaders),
      agent,
      setHost: false,
    });
    upstream.on("error", () => {
      // The target failed or we cut it: the client learns it by a reset, as it would in production.
      req.socket.destroy();
    });
    // A client that gives up (or is cut) must not leave the upstream request running.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.on("response", (up) => {
      up.on("error", () => req.socket.destroy());
      const cut = () => {
        up.destroy();
        req.socket.destroy();
      };
      const length = Number(up.headers["content-length"]);
      // No body to cut in half (HEAD, empty body): cut before the headers, or the fault would be a no-op.
      if (fault?.kind === "reset-response" && (req.method === "HEAD" || length === 0)) return cut();
      res.writeHead(up.statusCode ?? 502, up.statusMessage, forwardable(up.rawHeaders));
      if (fault?.kind !== "reset-response") {
        up.pipe(res);
        return;
      }
      res.flushHeaders();
      if (Number.isFinite(length) && Math.floor(length / 2) === 0) return cut();
      forwardHalf(up, res, Number.isFinite(length) ? length : undefined, cut);
    });

    if (fault?.kind !== "reset-request") {
      req.pipe(upstream);
      return;
    }
    const length = Number(req.headers["content-length"]);
    const chunked = /chunked/i.test(req.headers["transfer-encoding"] ?? "");
    const cutRequest = () => {
      upstream.destroy();
      req.socket.destroy();
    };
    if (!chunked && !(length > 0)) return cutRequest();
    forwardHalf(req, upstream, length > 0 ? length : undefined, cutRequest);
  };

  const server = createServer((req, res) => {
    stats.requests++;
    options.onRequest?.(req.method ?? "", req.url ?? "");
    const fault = pick(req);
    switch (fault?.kind) {
      case "slow-down":
      case "too-many-requests":
      case "internal-error":
      case "permission-mismatch":
      case "error": {
        // Read the request body first: answering over an upload in progress makes clients see EPIPE, not the error.
        const f = fault;
        req.on("end", () => sendError(req, res, f, options.flavour));
        req.resume();
        return;
      }
      case "delay": {
        const t = setTimeout(() => {
          timers.delete(t);
          if (!stopped) forward(req, res, fault);
        }, fault.ms);
        timers.add(t);
        return;
      }
      default:
        forward(req, res, fault);
    }
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  // Clients dropping connections we reset is the point: never let it crash the server.
  server.on("clientError", (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    setRules,
    stop() {
      closing ??= new Promise<void>((resolve) => {
        stopped = true;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        agent.destroy();
      });
      return closing;
    },
  };
}
