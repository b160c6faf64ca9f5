/**
 * A counting reverse proxy: forwards every request unchanged (Host header
 * included, so SharedKey and SigV4 signatures stay valid) and records method,
 * path and query, Range header and response body bytes.
 */
import { createServer, request as httpRequest, Agent } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface Seen {
  method: string;
  path: string;
  range: boolean;
  status: number;
  responseBytes: number;
}

export interface CountProxy {
  endpoint: string;
  seen: Seen[];
  reset(): void;
  stop(): Promise<void>;
}

export async function startCountProxy(target: string): Promise<CountProxy> {
  const t = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const entry: Seen = { method: req.method ?? "", path: req.url ?? "", range: req.headers.range !== undefined || req.headers["x-ms-range"] !== undefined, status: 0, responseBytes: 0 };
    seen.push(entry);
    const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers, agent }, (upRes) => {
      entry.status = upRes.statusCode ?? 0;
      res.writeHead(upRes.statusCode ?? 502, upRes.rawHeaders as unknown as Record<string, string>);
      upRes.on("data", (d: Buffer) => (entry.responseBytes += d.length));
      upRes.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    reset: () => void seen.splice(0),
    stop: async () => {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface RequestCounts {
  total: number;
  byKind: Record<string, number>;
  /** GETs of object data (whole or ranged) and the body bytes they returned. */
  objectReads: number;
  objectReadBytes: number;
}

/** Azure Blob requests by kind: list, blob GET (data), HEAD (properties), tags, other. */
export function classifyAzure(seen: Seen[]): RequestCounts {
  const byKind: Record<string, number> = {};
  let objectReads = 0;
  let objectReadBytes = 0;
  for (const s of seen) {
    const q = new URLSearchParams(s.path.split("?")[1] ?? "");
    const comp = q.get("comp");
    let kind: string;
    if (comp === "list") kind = "list";
    else if (comp) kind = `${s.method} comp=${comp}`;
    else if (s.method === "GET") {
      kind = s.range ? "GET blob (ranged)" : "GET blob";
      objectReads++;
      objectReadBytes += s.responseBytes;
    } else kind = s.method;
    byKind[kind] = (byKind[kind] ?? 0) + 1;
  }
  return { total: seen.length, byKind, objectReads, objectReadBytes };
}

/** S3 requests by kind, run state (`statePrefix` keys or the state bucket) apart from data. */
export function classifyS3(seen: Seen[], stateMarker: string): RequestCounts {
  const byKind: Record<string, number> = {};
  let objectReads = 0;
  let objectReadBytes = 0;
  for (const s of seen) {
    const [path, query = ""] = s.path.split("?");
    const q = new URLSearchParams(query);
    const state = decodeURIComponent(path!).includes(stateMarker);
    let op: string;
    if (q.has("uploads")) op = s.method === "POST" ? "CreateMultipartUpload" : "ListMultipartUploads";
    else if (q.has("uploadId") && s.method === "PUT") op = "UploadPart";
    else if (q.has("uploadId") && s.method === "POST") op = "CompleteMultipartUpload";
    else if (q.has("uploadId") && s.method === "DELETE") op = "AbortMultipartUpload";
    else if (q.has("uploadId")) op = "ListParts";
    else if (q.has("list-type") || (s.method === "GET" && path!.split("/").filter(Boolean).length <= 1)) op = "List";
    else if (q.has("tagging")) op = `${s.method} tagging`;
    else if (s.method === "GET") op = "GetObject";
    else if (s.method === "PUT") op = "PutObject";
    else if (s.method === "HEAD") op = path!.split("/").filter(Boolean).length <= 1 ? "HeadBucket" : "HeadObject";
    else op = s.method;
    if (op === "GetObject" && !state) {
      objectReads++;
      objectReadBytes += s.responseBytes;
    }
    const kind = `${state ? "state " : ""}${op}`;
    byKind[kind] = (byKind[kind] ?? 0) + 1;
  }
  return { total: seen.length, byKind, objectReads, objectReadBytes };
}
