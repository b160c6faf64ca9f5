/**
 * A recording stand-in for the Scaleway Functions API (v1beta1), enough of it
 * for `serverless deploy`, `serverless remove` and `migrate doctor`:
 * namespaces, functions, upload URL and upload, deploy, runtimes, domains,
 * message triggers and crons. Wire format as in the API reference
 * (snake_case JSON; fields as in @scaleway/sdk-function's types).
 *
 * What the real API does that matters here, modelled strictly (where the
 * reference is silent, the stricter behaviour, so that a client correct here
 * is correct there):
 * - creations, updates, deploys and deletions are asynchronous: the resource
 *   answers `creating` / `pending` / `deleting` and settles `settleMs` later
 *   (a deleted trigger stays listed, `deleting`, until then);
 * - a trigger name is unique per function while the old one is still listed:
 *   a POST racing the DELETE of its namesake answers 409;
 * - a message trigger on a queue that does not exist answers 404;
 * - every request needs X-Auth-Token.
 * And the functions' side, for `migrate doctor`: `attach` gives a function a
 * URL (`domain_name`) in front of a locally served handler, with the private
 * functions' token check (namespace or function tokens from POST /tokens), and
 * `startTriggers` delivers the queues' messages to the functions through their
 * ready triggers, as the platform does.
 * Every request is recorded with its body and the times it arrived and was answered.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { GetQueueUrlCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { QueuePoller } from "../../shared/local/queue-poller.ts";

const require = createRequire(import.meta.url);
// The hash the platform shows for a secret (argon2id), as the Scaleway plugin verifies it.
const argon2 = require("argon2") as { hash(v: string): Promise<string> };

export interface RecordedRequest {
  seq: number;
  method: string;
  /** Path below the regional base, e.g. `namespaces/ID` or `triggers`. */
  path: string;
  query: Record<string, string>;
  body: unknown;
  status: number;
  arrivedAt: number;
  answeredAt: number;
}

type Status = "ready" | "creating" | "pending" | "deleting" | "error" | "created";

interface Settling {
  status: Status;
  settlesAt: number;
  next: Status | "gone";
}

interface Resource {
  id: string;
  settle?: Settling;
  [key: string]: unknown;
}

export interface StandInOptions {
  secretKey: string;
  region?: string;
  /** Queue names that exist (MNQ SQS); a message trigger on another queue answers 404. */
  queues?: () => string[];
  settleMs?: number;
}

/** A call the platform made to a function: over its URL, or from a trigger. */
export interface Invocation {
  function: string;
  via: string;
  status: number;
}

export interface FunctionsStandIn {
  /** Points the function's URL (`domain_name`) at a locally served handler, behind the private functions' token check. */
  attach(functionName: string, handlerUrl: string): Promise<void>;
  /** The variables and secrets (with values) the platform gives the function if deployed now. */
  runtimeEnv(functionName: string): Record<string, string>;
  /** Runs the ready message triggers against the attached functions. */
  startTriggers(sqs: SQSClient): void;
  /** The trigger stays listed `ready` but delivers nothing; `unstall` undoes it. */
  stall(triggerName: string): void;
  unstall(triggerName: string): void;
  invocations: Invocation[];
  tokens: Map<string, { id: string; token: string; namespace_id?: string; function_id?: string }>;
  /** Base URL of the API: give it to @scaleway/sdk as apiURL. */
  baseUrl: string;
  /** Regional URL, for the Serverless plugin's SCW_FUNCTION_URL. */
  functionUrl: string;
  region: string;
  requests: RecordedRequest[];
  namespaces: Map<string, Resource>;
  functions: Map<string, Resource>;
  triggers: Map<string, Resource>;
  crons: Map<string, Resource>;
  uploads: Map<string, { bytes: number; sha256: string }>;
  close(): Promise<void>;
}

/** A resource as the API shows it (without the stand-in's bookkeeping). */
function view(r: Resource): Record<string, unknown> {
  const { settle: _settle, ...shown } = r;
  return shown;
}

export async function startFunctionsStandIn(options: StandInOptions): Promise<FunctionsStandIn> {
  const region = options.region ?? "fr-par";
  const settleMs = options.settleMs ?? 150;
  const prefix = `/functions/v1beta1/regions/${region}/`;
  const requests: RecordedRequest[] = [];
  const namespaces = new Map<string, Resource>();
  const functions = new Map<string, Resource>();
  const triggers = new Map<string, Resource>();
  const crons = new Map<string, Resource>();
  const uploads = new Map<string, { bytes: number; sha256: string }>();
  const tokens = new Map<string, { id: string; token: string; namespace_id?: string; function_id?: string }>();
  /** Secret values by their hash, as the platform keeps them to give the functions (never shown by the API). */
  const secretValues = new Map<string, string>();
  let seq = 0;
  let baseUrl = "";

  const tables = [namespaces, functions, triggers, crons];
  /** Applies the settled state of every resource whose time has come. */
  function settleAll(): void {
    const now = Date.now();
    for (const table of tables) {
      for (const [id, r] of table) {
        if (r.settle && r.settle.settlesAt <= now) {
          if (r.settle.next === "gone") table.delete(id);
          else r.status = r.settle.next;
          delete r.settle;
        }
      }
    }
  }
  function transition(r: Resource, now: Status, next: Status | "gone"): void {
    r.status = now;
    r.settle = { status: now, settlesAt: Date.now() + settleMs, next };
  }

  async function hashedSecrets(list: unknown, previous: Array<{ key: string; hashed_value: string }> = []): Promise<Array<{ key: string; hashed_value: string }>> {
    const out = new Map(previous.map((s) => [s.key, s.hashed_value]));
    for (const s of (Array.isArray(list) ? list : []) as Array<{ key: string; value: string | null }>) {
      if (s.value === null) out.delete(s.key);
      else {
        const hashed = await argon2.hash(String(s.value));
        out.set(s.key, hashed);
        secretValues.set(hashed, String(s.value));
      }
    }
    return [...out].map(([key, hashed_value]) => ({ key, hashed_value }));
  }

  function error(status: number, message: string, type = "invalid_arguments"): [number, unknown] {
    return [status, { message, type }];
  }

  async function route(method: string, path: string, query: Record<string, string>, body: any): Promise<[number, unknown]> {
    settleAll();
    const parts = path.split("/").filter(Boolean);
    const [kind, id, sub] = parts;
    const find = (table: Map<string, Resource>, what: string): Resource | [number, unknown] => table.get(id!) ?? error(404, `${what} not found`, "not_found");

    if (kind === "runtimes" && method === "GET") {
      return [200, { runtimes: [{ name: "node20", language: "Node", status: "available", status_message: "", version: "20", default_handler: "handler.handle", extension: "js", code_sample: "", implementation: "", logo_url: "" }, { name: "node22", language: "Node", status: "available", status_message: "", version: "22", default_handler: "handler.handle", extension: "js", code_sample: "", implementation: "", logo_url: "" }], total_count: 2 }];
    }
    if (kind === "domains" && method === "GET") return [200, { domains: [], total_count: 0 }];

    if (kind === "namespaces") {
      if (!id && method === "GET") {
        const list = [...namespaces.values()].filter((n) => (!query.name || n.name === query.name) && (!query.project_id || n.project_id === query.project_id));
        return [200, { namespaces: list.map(view), total_count: list.length }];
      }
      if (!id && method === "POST") {
        if (!body?.name || !body?.project_id) return error(400, "name and project_id are required");
        if ([...namespaces.values()].some((n) => n.name === body.name && n.project_id === body.project_id)) return error(409, "namespace already exists", "conflict");
        const ns: Resource = {
          id: randomUUID(), name: body.name, project_id: body.project_id, organization_id: body.project_id, region, description: body.description ?? "",
          environment_variables: body.environment_variables ?? {}, secret_environment_variables: await hashedSecrets(body.secret_environment_variables),
          registry_namespace_id: randomUUID(), registry_endpoint: `rg.${region}.scw.cloud/funcscw${body.name}`, error_message: null, tags: [],
        };
        transition(ns, "pending", "ready");
        namespaces.set(ns.id, ns);
        return [200, view(ns)];
      }
      if (id && sub === "functions" && method === "GET") {
        const list = [...functions.values()].filter((f) => f.namespace_id === id);
        return [200, { functions: list.map(view), total_count: list.length }];
      }
      const ns = find(namespaces, "namespace");
      if (Array.isArray(ns)) return ns;
      if (method === "GET") return [200, view(ns)];
      if (method === "PATCH") {
        if (ns.status !== "ready") return error(409, `namespace is ${ns.status}`, "precondition_failed");
        if (body.environment_variables !== undefined) ns.environment_variables = body.environment_variables;
        if (body.secret_environment_variables !== undefined) {
          ns.secret_environment_variables = await hashedSecrets(body.secret_environment_variables, ns.secret_environment_variables as Array<{ key: string; hashed_value: string }>);
        }
        transition(ns, "pending", "ready");
        return [200, view(ns)];
      }
      if (method === "DELETE") {
        transition(ns, "deleting", "gone");
        for (const f of functions.values()) if (f.namespace_id === ns.id) transition(f, "deleting", "gone");
        for (const t of [...triggers.values(), ...crons.values()]) if (functions.get(t.function_id as string)?.namespace_id === ns.id) transition(t, "deleting", "gone");
        return [200, view(ns)];
      }
    }

    if (kind === "functions") {
      if (!id && method === "GET") {
        const list = [...functions.values()].filter((f) => !query.namespace_id || f.namespace_id === query.namespace_id);
        return [200, { functions: list.map(view), total_count: list.length }];
      }
      if (!id && method === "POST") {
        const ns = namespaces.get(body?.namespace_id);
        if (!ns) return error(404, "namespace not found", "not_found");
        if (!body.name || !body.runtime || !body.handler) return error(400, "name, runtime and handler are required");
        if ([...functions.values()].some((f) => f.namespace_id === ns.id && f.name === body.name)) return error(409, "function already exists", "conflict");
        const fid = randomUUID();
        const fn: Resource = {
          id: fid, name: body.name, namespace_id: ns.id, region, runtime: body.runtime, handler: body.handler, privacy: body.privacy ?? "public",
          memory_limit: body.memory_limit, min_scale: body.min_scale ?? 0, max_scale: body.max_scale ?? 20, timeout: body.timeout, sandbox: body.sandbox ?? "v1",
          description: body.description ?? "", http_option: body.http_option ?? "enabled", environment_variables: body.environment_variables ?? {},
          secret_environment_variables: await hashedSecrets(body.secret_environment_variables), runtime_message: "", error_message: null, build_message: "", tags: [],
          domain_name: "", deployed: null,
        };
        fn.domain_name = `${ns.name}-${body.name}.functions.fnc.${region}.scw.cloud`;
        fn.status = "created";
        functions.set(fid, fn);
        return [200, view(fn)];
      }
      const fn = find(functions, "function");
      if (Array.isArray(fn)) return fn;
      if (method === "GET" && sub === "upload-url") {
        return [200, { url: `${baseUrl}/upload/${fn.id}?content_length=${query.content_length ?? ""}`, headers: { "content-type": ["application/octet-stream"] } }];
      }
      if (method === "GET") return [200, view(fn)];
      if (method === "PATCH") {
        for (const k of ["description", "memory_limit", "min_scale", "max_scale", "timeout", "handler", "privacy", "runtime", "sandbox", "http_option", "environment_variables"]) {
          if (body[k] !== undefined) fn[k] = body[k];
        }
        if (body.secret_environment_variables !== undefined) {
          fn.secret_environment_variables = await hashedSecrets(body.secret_environment_variables, fn.secret_environment_variables as Array<{ key: string; hashed_value: string }>);
        }
        return [200, view(fn)];
      }
      if (method === "POST" && sub === "deploy") {
        if (!uploads.has(fn.id)) return error(400, "no code uploaded for this function", "precondition_failed");
        const ns = namespaces.get(fn.namespace_id as string)!;
        // What the function will run with: its namespace's variables and secrets as they are now.
        fn.deployed = {
          code_sha256: uploads.get(fn.id)!.sha256,
          environment_variables: { ...(ns.environment_variables as object), ...(fn.environment_variables as object) },
          secret_keys: [...new Set([...(ns.secret_environment_variables as Array<{ key: string }>), ...(fn.secret_environment_variables as Array<{ key: string }>)].map((s) => s.key))].sort(),
          namespace_secret_hashes: ns.secret_environment_variables,
        };
        transition(fn, "pending", "ready");
        return [200, view(fn)];
      }
      if (method === "DELETE") {
        transition(fn, "deleting", "gone");
        return [200, view(fn)];
      }
    }

    if (kind === "tokens") {
      if (!id && method === "POST") {
        if (!body?.namespace_id === !body?.function_id) return error(400, "exactly one of namespace_id and function_id is required");
        if (body.namespace_id && !namespaces.has(body.namespace_id)) return error(404, "namespace not found", "not_found");
        if (body.function_id && !functions.has(body.function_id)) return error(404, "function not found", "not_found");
        const t = { id: randomUUID(), token: randomBytes(32).toString("base64url"), ...(body.namespace_id ? { namespace_id: body.namespace_id } : { function_id: body.function_id }) };
        tokens.set(t.id, t);
        return [200, { ...t, public_key: "", status: "ready", description: body.description ?? "", expires_at: body.expires_at ?? null }];
      }
      const t = tokens.get(id ?? "");
      if (!t) return error(404, "token not found", "not_found");
      if (method === "DELETE") {
        tokens.delete(t.id);
        return [200, { ...t, status: "deleting" }];
      }
    }

    const triggerTable = kind === "triggers" ? triggers : kind === "crons" ? crons : undefined;
    if (triggerTable) {
      if (!id && method === "GET") {
        const list = [...triggerTable.values()].filter((t) => !query.function_id || t.function_id === query.function_id);
        return [200, { [kind!]: list.map(view), total_count: list.length }];
      }
      if (!id && method === "POST") {
        const fn = functions.get(body?.function_id);
        if (!fn) return error(404, "function not found", "not_found");
        if (kind === "crons") {
          if (typeof body.schedule !== "string" || body.schedule.trim().split(/\s+/).length !== 5) return error(400, "schedule must be a 5-field cron expression");
          const name = body.name ?? `cron-${randomUUID().slice(0, 8)}`;
          const cron: Resource = { id: randomUUID(), function_id: fn.id, schedule: body.schedule, args: body.args ?? {}, name };
          transition(cron, "creating", "ready");
          crons.set(cron.id, cron);
          return [200, view(cron)];
        }
        const name = String(body.name ?? "");
        if (!/^[a-zA-Z0-9-]{2,100}$/.test(name)) return error(400, "name is invalid");
        if ([...triggers.values()].some((t) => t.function_id === fn.id && t.name === name)) return error(409, `a trigger named ${name} already exists on this function`, "conflict");
        const sqs = body.scw_sqs_config;
        if (!sqs?.queue || !sqs?.mnq_project_id || !sqs?.mnq_region) return error(400, "scw_sqs_config.queue, mnq_project_id and mnq_region are required");
        if (options.queues && !options.queues().includes(sqs.queue)) return error(404, `queue ${sqs.queue} not found`, "not_found");
        const trigger: Resource = {
          id: randomUUID(), name, description: body.description ?? "", function_id: fn.id, input_type: "scw_sqs",
          scw_sqs_config: { queue: sqs.queue, mnq_project_id: sqs.mnq_project_id, mnq_region: sqs.mnq_region, mnq_credential_id: randomUUID() }, error_message: null,
        };
        transition(trigger, "creating", "ready");
        triggers.set(trigger.id, trigger);
        return [200, view(trigger)];
      }
      const t = find(triggerTable, kind === "crons" ? "cron" : "trigger");
      if (Array.isArray(t)) return t;
      if (method === "GET") return [200, view(t)];
      if (method === "DELETE") {
        transition(t, "deleting", "gone");
        return [200, view(t)];
      }
    }

    return error(404, `no route ${method} ${path}`, "not_found");
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrivedAt = performance.now();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? "/", "http://stand-in");
    const query = Object.fromEntries(url.searchParams);
    const send = (status: number, payload: unknown, path: string, body: unknown) => {
      requests.push({ seq: ++seq, method: req.method ?? "", path, query, body, status, arrivedAt, answeredAt: performance.now() });
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(payload));
    };

    if (url.pathname.startsWith("/upload/") && req.method === "PUT") {
      const fid = url.pathname.slice("/upload/".length);
      uploads.set(fid, { bytes: raw.length, sha256: createHash("sha256").update(raw).digest("hex") });
      send(200, {}, `upload/${fid}`, { bytes: raw.length });
      return;
    }
    if (!url.pathname.startsWith(prefix)) {
      send(404, { message: `unknown API ${url.pathname}`, type: "not_found" }, url.pathname, undefined);
      return;
    }
    const path = url.pathname.slice(prefix.length).replace(/^\/+/, "");
    let body: unknown = undefined;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch {
        send(400, { message: "body is not JSON", type: "invalid_request_error" }, path, raw.toString("utf8"));
        return;
      }
    }
    if (req.headers["x-auth-token"] !== options.secretKey) {
      send(401, { message: "authentication is denied", type: "denied_authentication" }, path, body);
      return;
    }
    const [status, payload] = await route(req.method ?? "GET", path, query, body ?? {});
    send(status, payload, path, body);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: String(err), type: "internal" }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("stand-in did not bind");
  baseUrl = `http://127.0.0.1:${address.port}`;

  // ---- The functions' side of the platform: their URLs and their queue triggers. ----
  const attached = new Map<string, { handlerUrl: string; gateway: Server }>();
  const invocations: Invocation[] = [];
  const functionNamed = (name: string) => [...functions.values()].find((f) => f.name === name);

  /** The private functions' gate: a live token of the function or its namespace in X-Auth-Token, as the platform asks. */
  function authorized(fn: Resource, header: string | string[] | undefined): boolean {
    if (fn.privacy !== "private") return true;
    const given = Array.isArray(header) ? header[0] : header;
    return [...tokens.values()].some((t) => t.token === given && (t.function_id === fn.id || t.namespace_id === fn.namespace_id));
  }

  async function attach(functionName: string, handlerUrl: string): Promise<void> {
    const fn = functionNamed(functionName);
    if (!fn) throw new Error(`no function ${functionName} deployed`);
    await attached.get(fn.id)?.gateway.close();
    const gateway = createServer((req, res) => {
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const ok = authorized(fn, req.headers["x-auth-token"]);
        let status = 403;
        let payload = JSON.stringify({ message: "missing or invalid X-Auth-Token for this private function", type: "permissions_denied" });
        let contentType = "application/json";
        if (ok) {
          try {
            const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !["host", "connection", "content-length", "x-auth-token"].includes(k)).map(([k, v]) => [k, String(v)]));
            const answer = await fetch(attached.get(fn.id)!.handlerUrl, { method: req.method, headers, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) });
            status = answer.status;
            payload = await answer.text();
            contentType = answer.headers.get("content-type") ?? "text/plain";
          } catch (err) {
            status = 502;
            payload = JSON.stringify({ message: `function did not answer: ${String(err)}` });
          }
        }
        invocations.push({ function: functionName, via: "http", status });
        res.writeHead(status, { "content-type": contentType });
        res.end(payload);
      })();
    });
    await new Promise<void>((resolve) => gateway.listen(0, "127.0.0.1", resolve));
    attached.set(fn.id, { handlerUrl, gateway });
    fn.domain_name = `127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  }

  /**
   * The environment a function gets from the platform if deployed now: its
   * namespace's variables and its own, then their secrets, with their values.
   */
  function runtimeEnv(functionName: string): Record<string, string> {
    const fn = functionNamed(functionName);
    if (!fn) throw new Error(`no function ${functionName} deployed`);
    const ns = namespaces.get(fn.namespace_id as string)!;
    const env: Record<string, string> = { ...(ns.environment_variables as Record<string, string>), ...(fn.environment_variables as Record<string, string>) };
    for (const r of [ns, fn]) for (const sec of r.secret_environment_variables as Array<{ key: string; hashed_value: string }>) env[sec.key] = secretValues.get(sec.hashed_value)!;
    return env;
  }

  const stalled = new Set<string>();
  const pollers = new Map<string, QueuePoller>();
  const queueUrlOf = new Map<string, string>();
  let reconciling: NodeJS.Timeout | undefined;

  /**
   * Runs the ready message triggers as the platform does: each polls its queue
   * (through `sqs`, the platform's own access) and POSTs every message to its
   * function's handler, at most 10 in flight, 3 retries. A stalled trigger is
   * still listed `ready` but delivers nothing (e.g. its queue credential revoked).
   */
  function startTriggers(sqs: SQSClient): void {
    const reconcile = async () => {
      settleAll();
      const wanted = new Set<string>();
      for (const t of triggers.values()) {
        const target = attached.get(t.function_id as string);
        if (t.status !== "ready" || stalled.has(t.name as string) || !target) continue;
        wanted.add(t.id);
        if (pollers.has(t.id)) continue;
        const queue = (t.scw_sqs_config as { queue: string }).queue;
        let url = queueUrlOf.get(queue);
        if (!url) {
          url = (await sqs.send(new GetQueueUrlCommand({ QueueName: queue }))).QueueUrl!;
          queueUrlOf.set(queue, url);
        }
        const fnName = functions.get(t.function_id as string)?.name as string;
        const poller = new QueuePoller(sqs, url, async (event) => {
          // The function as deployed now (a redeploy serves it elsewhere).
          const res = await fetch(attached.get(t.function_id as string)?.handlerUrl ?? target.handlerUrl, { method: "POST", headers: { "content-type": "application/json" }, body: event.body });
          await res.arrayBuffer();
          invocations.push({ function: fnName, via: `queue ${queue}`, status: res.status });
          return { statusCode: res.status };
        });
        pollers.set(t.id, poller);
        poller.start();
      }
      for (const [id, poller] of pollers) {
        if (wanted.has(id)) continue;
        pollers.delete(id);
        await poller.stop();
      }
    };
    let busy = false;
    reconciling = setInterval(() => {
      if (busy) return;
      busy = true;
      reconcile().catch(() => undefined).finally(() => (busy = false));
    }, 200);
  }

  async function stopFunctions(): Promise<void> {
    clearInterval(reconciling);
    await Promise.all([...pollers.values()].map((p) => p.stop()));
    pollers.clear();
    for (const a of attached.values()) {
      a.gateway.closeAllConnections();
      await new Promise((r) => a.gateway.close(r));
    }
    attached.clear();
  }

  return {
    attach,
    runtimeEnv,
    startTriggers,
    stall: (triggerName: string) => void stalled.add(triggerName),
    unstall: (triggerName: string) => void stalled.delete(triggerName),
    invocations,
    tokens,
    baseUrl,
    functionUrl: `${baseUrl}${prefix.replace(/\/$/, "")}`,
    region,
    requests,
    namespaces,
    functions,
    triggers,
    crons,
    uploads,
    close: async () => {
      await stopFunctions();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
