/**
 * What the plain requests of the adapters (shared/s3/signed-http.ts,
 * shared/azure/blob-http.ts) share: a keep-alive agent per endpoint, the
 * connect and idle timeouts of the SDK clients, and one request that resolves
 * with the answer when it is a success and rejects with the start of its body
 * (its error document) otherwise.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

const CONNECT_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 120_000;
/** Error bodies are small XML documents; more than this is not kept. */
const MAX_ERROR_BODY = 64 * 1024;

export function keepAliveAgent(endpoint: URL, maxSockets: number): HttpAgent {
  const options = { keepAlive: true, maxSockets };
  return endpoint.protocol === "https:" ? new HttpsAgent(options) : new HttpAgent(options);
}

export interface PlainRequest {
  endpoint: URL;
  /** Host name to connect to when it is not the endpoint's (S3 virtual-hosted buckets). */
  hostname?: string;
  agent: HttpAgent;
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  body?: Buffer;
  signal?: AbortSignal;
}

/**
 * Sends one request. A status under 300 resolves with the answer, its body
 * unread; any other status rejects with `fail(status, body, headers)`.
 */
export function plainRequest(r: PlainRequest, fail: (status: number, body: string, headers: IncomingMessage["headers"]) => Error): Promise<IncomingMessage> {
  const request = r.endpoint.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(
      {
        protocol: r.endpoint.protocol,
        hostname: r.hostname ?? r.endpoint.hostname,
        port: r.endpoint.port || undefined,
        method: r.method,
        path: r.path,
        headers: r.headers,
        agent: r.agent,
        signal: r.signal,
        timeout: CONNECT_TIMEOUT_MS,
      },
      (res) => {
        req.setTimeout(IDLE_TIMEOUT_MS);
        const status = res.statusCode ?? 0;
        if (status < 300) return resolve(res);
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          if (size < MAX_ERROR_BODY) chunks.push(c);
          size += c.length;
        });
        res.on("error", reject);
        res.on("end", () => reject(fail(status, Buffer.concat(chunks).toString("utf8"), res.headers)));
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error(`${r.method} request timed out`), { code: "ETIMEDOUT" })));
    req.on("error", reject);
    req.end(r.body);
  });
}

/** Reads an answer's body to its end and drops it (a success whose body is not needed). */
export function drain(res: IncomingMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    res.on("error", reject);
    res.on("aborted", () => reject(Object.assign(new Error("response aborted"), { code: "ECONNRESET" })));
    res.on("end", () => resolve());
    res.resume();
  });
}
