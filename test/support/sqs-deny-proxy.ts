/**
 * A reverse proxy in front of an SQS server (fauxqs, which checks no
 * credentials) that refuses chosen actions to chosen access keys the way SQS
 * does, 403 AccessDenied, in the dialect of the request (JSON protocol or
 * query): a queue credential without publish rights, seen from the client.
 * Everything else is forwarded unchanged.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";

export interface SqsDenyProxy {
  endpoint: string;
  /** Refuse these actions (e.g. SendMessage, SendMessageBatch) to this access key id. */
  deny(accessKeyId: string, actions: string[]): void;
  allowAll(): void;
  /** Requests refused so far, by action. */
  refused: string[];
  stop(): Promise<void>;
}

export async function startSqsDenyProxy(target: string): Promise<SqsDenyProxy> {
  const denied = new Map<string, Set<string>>();
  const refused: string[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const keyId = /Credential=([^/,\s]+)\//.exec(req.headers.authorization ?? "")?.[1] ?? "";
      const target_ = String(req.headers["x-amz-target"] ?? "");
      const json = target_.startsWith("AmazonSQS.");
      const action = json ? target_.slice("AmazonSQS.".length) : (new URLSearchParams(body.toString("utf8")).get("Action") ?? "");
      if (denied.get(keyId)?.has(action)) {
        refused.push(action);
        const message = `Access to the resource is denied: ${keyId} may not ${action}`;
        const requestId = randomUUID();
        if (json) {
          res.writeHead(403, { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": requestId, "x-amzn-query-error": "AccessDenied;Sender" });
          res.end(JSON.stringify({ __type: "com.amazonaws.sqs#AccessDenied", message }));
        } else {
          res.writeHead(403, { "content-type": "text/xml", "x-amzn-requestid": requestId });
          res.end(`<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`);
        }
        return;
      }
      try {
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !["host", "connection", "content-length"].includes(k)).map(([k, v]) => [k, String(v)]));
        const answer = await fetch(`${target.replace(/\/+$/, "")}${req.url ?? "/"}`, { method: req.method, headers, ...(body.length ? { body } : {}) });
        const out = Buffer.from(await answer.arrayBuffer());
        res.writeHead(answer.status, Object.fromEntries([...answer.headers].filter(([k]) => !["content-length", "transfer-encoding", "connection", "content-encoding"].includes(k))));
        res.end(out);
      } catch (err) {
        res.writeHead(502);
        res.end(String(err));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    deny: (keyId, actions) => void denied.set(keyId, new Set(actions)),
    allowAll: () => denied.clear(),
    refused,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
