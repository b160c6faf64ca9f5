/**
 * Post-deploy checks read from the Scaleway Functions API: the namespace and
 * both functions are ready, each secret the operator exported reached the
 * namespace (or the function), the variables the functions route by (queue
 * URLs, endpoint, state bucket) are the operator's, and every trigger of
 * serverless.yml is wired and ready: one per worker queue, the control queue,
 * the schedule. Each failure is one line saying what is wrong and what to do.
 */
export interface Check {
  ok: boolean;
  what: string;
  /** For a failure: what to do. */
  fix?: string;
}

export interface Expected {
  namespace: string;
  projectId: string;
  /** Secrets the operator set (non-empty), by where serverless.yml puts them. */
  namespaceSecrets: string[];
  functionSecrets: Record<string, string[]>;
  /** Variables the functions must hold with exactly these values. */
  namespaceVariables: Record<string, string>;
  workerQueues: string[];
  controlQueue: string;
  schedule: string;
}

export interface FunctionsApi {
  get(path: string): Promise<unknown>;
  post(path: string, body: unknown): Promise<unknown>;
  delete(path: string): Promise<unknown>;
}

/** The Functions API over fetch, with the operator's key in X-Auth-Token. */
export function functionsApi(baseUrl: string, secretKey: string): FunctionsApi {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${baseUrl.replace(/\/+$/, "")}/${path}`, {
      method,
      headers: { "X-Auth-Token": secretKey, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path.split("?")[0]} answered ${res.status}: ${text.slice(0, 200)}`);
    return JSON.parse(text || "{}") as unknown;
  };
  return { get: (path) => call("GET", path), post: (path, body) => call("POST", path, body), delete: (path) => call("DELETE", path) };
}

/**
 * A namespace token (X-Auth-Token of the private functions) that expires in
 * `minutes`; `revoke` deletes it. Tokens are secrets: registered for redaction.
 */
export async function namespaceToken(api: FunctionsApi, namespaceId: string, minutes: number): Promise<{ token: string; revoke(): Promise<void> }> {
  const expiresAt = new Date(Date.now() + minutes * 60_000).toISOString();
  const t = (await api.post("tokens", { namespace_id: namespaceId, description: "migrate doctor (deleted after the check)", expires_at: expiresAt })) as { id: string; token: string };
  return { token: t.token, revoke: async () => void (await api.delete(`tokens/${t.id}`)) };
}

/** What the API shows of the deployment: checks, and where the functions answer. */
export interface DeploymentView {
  checks: Check[];
  namespaceId?: string;
  functions: Array<{ name: "coordinator" | "worker"; domainName: string }>;
}

interface Named {
  id: string;
  name: string;
  status: string;
  error_message?: string | null;
}
interface Ns extends Named {
  environment_variables?: Record<string, string>;
  secret_environment_variables?: Array<{ key: string }>;
}
interface Trigger extends Named {
  scw_sqs_config?: { queue: string };
}
interface Cron extends Named {
  schedule: string;
}

const REDEPLOY = "export it and run npm run deploy";

export async function checkDeployment(api: FunctionsApi, expected: Expected): Promise<DeploymentView> {
  const checks: Check[] = [];
  const ns = ((await api.get(`namespaces?name=${encodeURIComponent(expected.namespace)}&project_id=${expected.projectId}`)) as { namespaces: Ns[] }).namespaces[0];
  if (!ns) return { checks: [{ ok: false, what: `namespace ${expected.namespace} not found in project ${expected.projectId}`, fix: "run npm run deploy" }], functions: [] };
  checks.push(ns.status === "ready" ? { ok: true, what: `namespace ${ns.name} ready` } : { ok: false, what: `namespace ${ns.name} is ${ns.status}${ns.error_message ? `: ${ns.error_message}` : ""}`, fix: "wait, or run npm run deploy again" });

  const nsSecrets = new Set((ns.secret_environment_variables ?? []).map((s) => s.key));
  for (const key of expected.namespaceSecrets) {
    checks.push(nsSecrets.has(key) ? { ok: true, what: `secret ${key} set on the namespace` } : { ok: false, what: `secret ${key} is not set on the namespace (the functions can not read it)`, fix: REDEPLOY });
  }
  for (const [key, value] of Object.entries(expected.namespaceVariables)) {
    const deployed = ns.environment_variables?.[key];
    checks.push(deployed === value ? { ok: true, what: `variable ${key} as yours` } : { ok: false, what: `variable ${key} on the namespace ${deployed === undefined ? "is missing" : "differs from yours"}`, fix: "run npm run deploy with your current exports" });
  }

  const functions = ((await api.get(`namespaces/${ns.id}/functions`)) as { functions: Array<Named & { domain_name?: string; secret_environment_variables?: Array<{ key: string }> }> }).functions;
  const byName = new Map(functions.map((f) => [f.name, f]));
  for (const name of ["coordinator", "worker"]) {
    const fn = byName.get(name);
    if (!fn) {
      checks.push({ ok: false, what: `function ${name} not found`, fix: "run npm run deploy" });
      continue;
    }
    checks.push(fn.status === "ready" ? { ok: true, what: `function ${name} ready` } : { ok: false, what: `function ${name} is ${fn.status}${fn.error_message ? `: ${fn.error_message}` : ""}`, fix: "npx serverless logs --function " + name });
    const fnSecrets = new Set((fn.secret_environment_variables ?? []).map((s) => s.key));
    for (const key of expected.functionSecrets[name] ?? []) {
      checks.push(fnSecrets.has(key) ? { ok: true, what: `secret ${key} set on ${name}` } : { ok: false, what: `secret ${key} is not set on function ${name}`, fix: REDEPLOY });
    }
  }

  const triggersOf = async (fn: Named | undefined) => (fn ? ((await api.get(`triggers?function_id=${fn.id}`)) as { triggers: Trigger[] }).triggers : []);
  const wanted: Array<[string, string]> = [...expected.workerQueues.map((q) => ["worker", q] as [string, string]), ["coordinator", expected.controlQueue]];
  const triggers = new Map<string, Trigger[]>([["worker", await triggersOf(byName.get("worker"))], ["coordinator", await triggersOf(byName.get("coordinator"))]]);
  for (const [fnName, queue] of wanted) {
    const t = triggers.get(fnName)!.find((x) => x.scw_sqs_config?.queue === queue);
    if (!t) checks.push({ ok: false, what: `no trigger reads queue ${queue} for function ${fnName}: its messages are never processed`, fix: "run npm run deploy (WORKER_QUEUE_URLS and the worker triggers must match)" });
    else if (t.status !== "ready") checks.push({ ok: false, what: `trigger ${t.name} (queue ${queue}) is ${t.status}${t.error_message ? `: ${t.error_message}` : ""}`, fix: "run npm run deploy to replace it" });
    else checks.push({ ok: true, what: `trigger ${t.name} wired to queue ${queue}` });
  }
  const coordinator = byName.get("coordinator");
  const crons = coordinator ? ((await api.get(`crons?function_id=${coordinator.id}`)) as { crons: Cron[] }).crons : [];
  const cron = crons.find((c) => c.schedule === expected.schedule);
  if (!cron) checks.push({ ok: false, what: `no schedule trigger "${expected.schedule}" on the coordinator: the sweep never runs`, fix: "run npm run deploy" });
  else checks.push(cron.status === "ready" ? { ok: true, what: `schedule "${cron.schedule}" (sweep) wired` } : { ok: false, what: `schedule "${cron.schedule}" is ${cron.status}`, fix: "run npm run deploy to replace it" });
  const reachable = (["coordinator", "worker"] as const).flatMap((name) => {
    const domainName = byName.get(name)?.domain_name;
    return domainName ? [{ name, domainName }] : [];
  });
  return { checks, namespaceId: ns.id, functions: reachable };
}
