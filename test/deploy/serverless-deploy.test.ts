/**
 * `serverless deploy`, a redeploy with changed queues and a rotated secret, a
 * refused trigger, and `serverless remove`, each run from a fresh clone
 * against a recording stand-in for the Scaleway Functions API
 * (SCW_FUNCTION_URL), offline. The assertions are on the requests the
 * deployment sends: fields, empty values, order, and what the operator is told.
 */
import { describe, it, expect, beforeAll, afterAll, inject } from "vitest";
import { CreateQueueCommand } from "@aws-sdk/client-sqs";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { clients, newBucket, newContainer, serverEnv, uniqueName } from "../support/env.ts";
import { ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters, type ContainerClient } from "@azure/storage-blob";
import { startSqsDenyProxy, type SqsDenyProxy } from "../support/sqs-deny-proxy.ts";
import { serveBundle, type ServedBundle } from "../support/served-bundle.ts";
import { join } from "node:path";
import { freshClone, ROOT, runIn, type FreshClone } from "../support/fresh-clone.ts";
import { startFunctionsStandIn, type FunctionsStandIn, type RecordedRequest } from "../support/scaleway-functions-api.ts";

const SECRET_KEY = "99999999-8888-4777-8666-555555555555";
const PROJECT = "11111111-2222-4333-8444-555555555555";
/** Queue URLs on the suite's SQS server (fauxqs), by name. */
const queueUrls = new Map<string, string>();

async function createQueue(name: string, visibilityTimeout = 960): Promise<string> {
  const url = (await clients.sqs().send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: String(visibilityTimeout) } }))).QueueUrl!;
  queueUrls.set(name, url);
  return url;
}
const urls = (...names: string[]) => names.map((n) => queueUrls.get(n)!).join(",");

let api: FunctionsStandIn;
let stateBucket: string;
let clone: FreshClone;
let sqsProxy: SqsDenyProxy;
let source: ContainerClient;
let sourceSas: string;
let destinationBucket: string;

const s3Env = () => Object.fromEntries(Object.entries(serverEnv()).filter(([k]) => k.startsWith("S3_")));
const queues = new Set<string>();

function deployEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOME: clone.home,
    SCW_SECRET_KEY: SECRET_KEY,
    SCW_DEFAULT_PROJECT_ID: PROJECT,
    SCW_REGION: "fr-par",
    SCW_FUNCTION_URL: api.functionUrl,
    // The suite's servers, so that the deployed bundles, served locally, reach them (migrate doctor).
    // A container SAS with read and list: AZURE_STORAGE_KEY and AZURE_STORAGE_CONNECTION_STRING stay unset (empty in serverless.yml).
    AZURE_STORAGE_ACCOUNT: inject("azurite").account,
    AZURE_STORAGE_BLOB_ENDPOINT: inject("azurite").endpoint,
    AZURE_STORAGE_SAS_TOKEN: sourceSas,
    ...s3Env(),
    STATE_BUCKET: stateBucket,
    // Through a proxy that can refuse a credential what Scaleway Queues would (fauxqs checks none).
    SQS_ENDPOINT: sqsProxy.endpoint,
    SQS_REGION: inject("sqs").region,
    SQS_ACCESS_KEY_ID: inject("sqs").accessKeyId,
    SQS_SECRET_ACCESS_KEY: inject("sqs").secretAccessKey,
    WORKER_QUEUE_COUNT: "2",
    WORKER_QUEUE_URLS: urls("migrate-worker-0", "migrate-worker-1"),
    CONTROL_QUEUE_URL: urls("migrate-control"),
    ...extra,
  };
}

const serverless = (args: string[], env: Record<string, string>) => runIn(clone.dir, "npx", ["--no", "serverless", ...args], env, 180_000);

function since(mark: number): RecordedRequest[] {
  return api.requests.filter((r) => r.seq > mark);
}

/** Every variable and secret sent to a namespace or a function, with where it was sent. */
function sentValues(reqs: RecordedRequest[]): Array<{ where: string; key: string; value: unknown }> {
  const out = [];
  for (const r of reqs) {
    if (!["POST", "PATCH"].includes(r.method) || !/^(namespaces|functions)(\/[^/]+)?$/.test(r.path)) continue;
    const b = r.body as { environment_variables?: Record<string, unknown>; secret_environment_variables?: Array<{ key: string; value: unknown }> };
    for (const [key, value] of Object.entries(b.environment_variables ?? {})) out.push({ where: `${r.method} ${r.path} env`, key, value });
    for (const s of b.secret_environment_variables ?? []) out.push({ where: `${r.method} ${r.path} secret`, key: s.key, value: s.value });
  }
  return out;
}

const served = new Map<string, ServedBundle>();

/** (Re)starts each function's bundle, built in the clone, with what the platform gives it now, behind its URL. */
async function serveDeployed(overrides: Record<string, string> = {}): Promise<void> {
  for (const name of ["coordinator", "worker"]) {
    await served.get(name)?.stop();
    const f = await serveBundle(join(clone.dir, "dist", name, "handler.js"), { ...api.runtimeEnv(name), ...overrides });
    served.set(name, f);
    await api.attach(name, f.url);
  }
}

function triggersOf(name: string) {
  const fn = [...api.functions.values()].find((f) => f.name === name)!;
  return [...api.triggers.values()].filter((t) => t.function_id === fn.id);
}

beforeAll(async () => {
  api = await startFunctionsStandIn({ secretKey: SECRET_KEY, queues: () => [...queues] });
  sqsProxy = await startSqsDenyProxy(inject("sqs").endpoint);
  stateBucket = await newBucket("deploy-state");
  destinationBucket = await newBucket("deploy-dst");
  source = await newContainer("deploy-src");
  await source.getBlockBlobClient("a/one.txt").upload("one", 3);
  const a = inject("azurite");
  sourceSas = generateBlobSASQueryParameters(
    { containerName: source.containerName, permissions: ContainerSASPermissions.parse("rl"), expiresOn: new Date(Date.now() + 3 * 3600_000) },
    new StorageSharedKeyCredential(a.account, a.key),
  ).toString();
  clone = freshClone();
  for (const q of ["migrate-control", "migrate-worker-0", "migrate-worker-1"]) {
    queues.add(q);
    await createQueue(q);
  }
  await createQueue("migrate-worker-2");
}, 60_000);

afterAll(async () => {
  for (const f of served.values()) await f.stop();
  await api?.close();
  await sqsProxy?.stop();
  clone?.remove();
});

describe("serverless deploy against the recorded Functions API, from a fresh clone", () => {
  it("serverless remove works before anything was built", async () => {
    const r = await serverless(["remove"], deployEnv());
    // Nothing deployed yet: the namespace is not found, and the message says so (not a missing handler file).
    expect(r.output).not.toMatch(/Handler file/);
    expect(r.output).toMatch(/No namespace found with name azure-to-scaleway-migrator/);
  });

  it("first deploy: no empty variable or secret, namespace configured before the functions deploy, every trigger settled", async () => {
    const build = await runIn(clone.dir, "node", ["scripts/build.mjs", "--no-measure"], { HOME: clone.home });
    expect(build.code, build.output).toBe(0);
    const mark = api.requests.length;
    const r = await serverless(["deploy"], deployEnv());
    expect(r.code, r.output).toBe(0);
    const reqs = since(mark);

    const sent = sentValues(reqs);
    expect(sent.map((s) => s.key)).toContain("AZURE_STORAGE_SAS_TOKEN");
    expect(sent.filter((s) => s.value === "" || s.value === null || s.value === undefined), "empty values sent").toEqual([]);

    // The functions deploy with the namespace's variables and secrets already in place.
    for (const fn of api.functions.values()) {
      const deployed = fn.deployed as { environment_variables: Record<string, string>; secret_keys: string[] };
      expect(deployed.environment_variables.WORKER_QUEUE_URLS).toContain("migrate-worker-1");
      expect(deployed.secret_keys).toEqual(expect.arrayContaining(["AZURE_STORAGE_SAS_TOKEN", "S3_SECRET_ACCESS_KEY", "SQS_SECRET_ACCESS_KEY"]));
      expect(deployed.secret_keys).not.toContain("AZURE_STORAGE_KEY");
    }

    expect(triggersOf("worker").map((t) => [t.name, t.status, (t.scw_sqs_config as { queue: string }).queue]).sort()).toEqual([
      ["migrate-worker-0", "ready", "migrate-worker-0"],
      ["migrate-worker-1", "ready", "migrate-worker-1"],
    ]);
    expect(triggersOf("coordinator").map((t) => (t.scw_sqs_config as { queue: string; mnq_project_id: string }).mnq_project_id)).toEqual([PROJECT]);
    const crons = [...api.crons.values()];
    expect(crons.map((c) => [c.schedule, c.args, c.status])).toEqual([["0/5 * * * *", { v: 1, type: "sweep" }, "ready"]]);
    // Each trigger was answered, and seen settled, before the deploy reported success.
    const created = reqs.filter((q) => q.method === "POST" && (q.path === "triggers" || q.path === "crons"));
    expect(created.map((q) => q.status)).toEqual(created.map(() => 200));
    expect(r.output).toMatch(/Triggers: 4 ready/);
    expect(r.output).not.toMatch(/Unhandled|uncaught/i);
  });

  it("migrate doctor passes on the deployment served locally, and names a missing secret, an unwired trigger, a queue without permissions and a variable that did not arrive", async () => {
    // The built bundles of the clone, served with what the platform gives them, behind the URLs and triggers of the stand-in.
    await serveDeployed();
    api.startTriggers(clients.sqs());
    const doctor = (env: Record<string, string> = {}) =>
      runIn(clone.dir, process.execPath, [join(ROOT, "bin", "migrate.js"), "doctor", "--from", `azure://${source.containerName}/a`, "--to", `s3://${destinationBucket}`, "--wait", "20"], deployEnv(env), 180_000);
    const before = await doctor();
    expect(before.code, before.output).toBe(1);
    expect(before.stdout).toMatch(/FAIL {2}the sweep has never run \(schedule "0\/5 \* \* \* \*"\)/);
    expect(before.stdout).toMatch(/doctor: 1 of \d+ checks failed/);

    // The schedule trigger fires: it POSTs its input to the coordinator.
    const swept = await fetch(served.get("coordinator")!.url, { method: "POST", body: JSON.stringify({ v: 1, type: "sweep" }) });
    expect(swept.status).toBe(200);

    const good = await doctor();
    expect(good.code, good.output).toBe(0);
    expect(good.stdout).toMatch(/trigger migrate-worker-1 wired to queue migrate-worker-1/);
    expect(good.stdout).toMatch(/schedule "0\/5 \* \* \* \*" \(sweep\) wired/);
    for (const fn of ["coordinator", "worker"]) {
      expect(good.stdout).toContain(`ok    function ${fn} answers the ping: version 0.1.0`);
      expect(good.stdout).toMatch(new RegExp(`ok {4}function ${fn} loaded your configuration \\(fingerprint [0-9a-f]{12}\\): variables and secrets reached it`));
    }
    for (const [queue, fn] of [["migrate-worker-0", "worker"], ["migrate-worker-1", "worker"], ["migrate-control", "coordinator"]]) {
      expect(good.stdout).toMatch(new RegExp(`ok {4}a ping through queue ${queue} reached the ${fn} \\(\\d+ s\\)`));
      expect(api.invocations).toContainEqual({ function: fn, via: `queue ${queue}`, status: 200 });
    }
    // Each function checked its own access: one page of the source, a probe written and deleted in both buckets, a send to each queue.
    for (const fn of ["coordinator", "worker"]) {
      expect(good.stdout).toContain(`ok    function ${fn} can list azure://${source.containerName}/a/ (listed one page (1 blob))`);
      for (const b of [destinationBucket, stateBucket]) expect(good.stdout).toMatch(new RegExp(`ok {4}function ${fn} can write and delete in s3://${b} \\(wrote and deleted \\.migrate-state/doctor/`));
      for (const q of ["migrate-worker-0", "migrate-worker-1", "migrate-control"]) expect(good.stdout).toContain(`ok    function ${fn} can send to queue ${q} (sent a no-op ping)`);
    }
    expect(good.stdout).toMatch(/ok {4}the sweep ran \d+ s ago/);
    expect(good.stdout).toMatch(/doctor: all \d+ checks passed/);
    // The private functions were called with a namespace token, revoked afterwards; nothing was copied.
    expect(api.invocations.filter((i) => i.via === "http").map((i) => i.status)).toEqual(expect.arrayContaining([200]));
    expect(api.invocations.filter((i) => i.via === "http" && i.status === 403)).toEqual([]);
    expect(api.tokens.size).toBe(0);
    const copied = await clients.s3().send(new ListObjectsV2Command({ Bucket: destinationBucket }));
    expect(copied.Contents ?? []).toEqual([]);
    // The answers through the queues are cleaned up; no run was touched.
    const left = await clients.s3().send(new ListObjectsV2Command({ Bucket: stateBucket, Prefix: ".migrate-state/" }));
    expect((left.Contents ?? []).map((o) => o.Key)).toEqual([".migrate-state/sweep.json"]);

    // A trigger listed ready that delivers nothing (say its queue credential was revoked): only the ping through its queue shows it.
    api.stall("migrate-worker-1");
    try {
      const unwired = await doctor();
      expect(unwired.code).toBe(1);
      expect(unwired.stdout).toMatch(/ok {4}trigger migrate-worker-1 wired to queue migrate-worker-1/);
      expect(unwired.stdout).toMatch(
        /FAIL {2}no function consumed the ping sent to queue migrate-worker-1 within \d+ s: is its trigger wired\?: check the trigger of queue migrate-worker-1 on the worker/,
      );
      expect(unwired.stdout).toMatch(/ok {4}a ping through queue migrate-worker-0 reached the worker/);
      expect(unwired.stdout).toMatch(/doctor: 1 of \d+ checks failed/);
    } finally {
      api.unstall("migrate-worker-1");
    }

    // A secret that never reached the platform: the API shows it, and the functions, redeployed, say what it breaks.
    const ns = [...api.namespaces.values()][0]!;
    const secretsBefore = ns.secret_environment_variables as Array<{ key: string }>;
    ns.secret_environment_variables = secretsBefore.filter((x) => x.key !== "S3_SECRET_ACCESS_KEY");
    await serveDeployed();
    try {
      const bad = await doctor();
      expect(bad.code).toBe(1);
      expect(bad.stdout).toMatch(/FAIL {2}secret S3_SECRET_ACCESS_KEY is not set on the namespace \(the functions can not read it\): export it and run npm run deploy/);
      expect(bad.stdout).toMatch(/FAIL {2}function worker can not load its configuration: S3_SECRET_ACCESS_KEY is not set: export what it names and run npm run deploy/);
      expect(bad.stdout).toMatch(/FAIL {2}function coordinator's configuration differs from yours \(fingerprint [0-9a-f]{12}, yours [0-9a-f]{12}\): secret S3_SECRET_ACCESS_KEY is not set there: run npm run deploy with your current exports/);
      expect(bad.stdout).toMatch(/FAIL {2}the ping sent to queue migrate-worker-0 got no answer within \d+ s: the worker can not load its configuration \(above\)/);
      expect(bad.output).not.toContain(s3Env().S3_SECRET_ACCESS_KEY);
    } finally {
      ns.secret_environment_variables = secretsBefore;
      await serveDeployed();
    }

    // A queue credential without publish rights given to the functions (the proxy in front of fauxqs answers 403 AccessDenied
    // to its key, as Scaleway Queues would): each function says which queue it can not send to. Doctor's own credential still can.
    sqsProxy.deny("SCWQUEUERECEIVEONLY", ["SendMessage", "SendMessageBatch"]);
    await serveDeployed({ SQS_ACCESS_KEY_ID: "SCWQUEUERECEIVEONLY" });
    try {
      const denied = await doctor();
      expect(denied.code).toBe(1);
      for (const fn of ["coordinator", "worker"]) {
        for (const q of ["migrate-worker-0", "migrate-worker-1", "migrate-control"]) {
          expect(denied.stdout).toMatch(
            new RegExp(`FAIL {2}function ${fn} can not send to queue ${q} \\(AccessDenied: HTTP 403: Access to the resource is denied[^)]*\\): the functions' queue credential \\(SQS_ACCESS_KEY_ID\\) needs publish rights`),
          );
        }
      }
      expect(denied.stdout).toMatch(/ok {4}a ping through queue migrate-worker-0 reached the worker/);
      expect(denied.stdout).toMatch(/doctor: 6 of \d+ checks failed/);
      expect(sqsProxy.refused.length).toBeGreaterThanOrEqual(6);
    } finally {
      sqsProxy.allowAll();
      await serveDeployed();
    }

    // Queue URLs that differ from the deployed ones: the functions would route elsewhere.
    const moved = await doctor({ CONTROL_QUEUE_URL: urls("migrate-control") + "-x" });
    expect(moved.stdout).toMatch(/FAIL {2}variable CONTROL_QUEUE_URL on the namespace differs from yours/);
    expect(moved.stdout).toMatch(/FAIL {2}function worker's configuration differs from yours \(fingerprint [0-9a-f]{12}, yours [0-9a-f]{12}\): CONTROL_QUEUE_URL differs:/);
    for (const out of [before.output, good.output, moved.output]) {
      expect(out).not.toContain(s3Env().S3_SECRET_ACCESS_KEY);
      expect(out).not.toContain(inject("sqs").secretAccessKey);
      expect(out).not.toContain(sourceSas);
    }
  }, 600_000);

  it("redeploy with a third worker queue, a rotated secret and a key switched off: namespace updated first, triggers replaced without racing", async () => {
    queues.add("migrate-worker-2");
    // One trigger broke on the platform since the last deploy: it must be replaced under the same name.
    const broken = triggersOf("worker").find((t) => t.name === "migrate-worker-0")!;
    broken.status = "error";
    broken.error_message = "queue credentials revoked";
    const mark = api.requests.length;
    const r = await serverless(["deploy"], deployEnv({
      WORKER_QUEUE_COUNT: "3",
      WORKER_QUEUE_URLS: urls("migrate-worker-0", "migrate-worker-1", "migrate-worker-2"),
      S3_SECRET_ACCESS_KEY: "s3-secret-two",
    }));
    expect(r.code, r.output).toBe(0);
    const reqs = since(mark);

    expect(sentValues(reqs).filter((s) => s.value === "" || s.value === undefined)).toEqual([]);
    const nsUpdate = reqs.find((q) => q.method === "PATCH" && q.path.startsWith("namespaces/"));
    const deploys = reqs.filter((q) => q.method === "POST" && /^functions\/[^/]+\/deploy$/.test(q.path));
    expect(nsUpdate, "namespace variables and secrets updated").toBeDefined();
    expect(deploys).toHaveLength(2);
    for (const d of deploys) expect(d.arrivedAt).toBeGreaterThan(nsUpdate!.answeredAt);
    const secrets = (nsUpdate!.body as { secret_environment_variables: Array<{ key: string; value: string | null }> }).secret_environment_variables;
    expect(secrets).toContainEqual({ key: "S3_SECRET_ACCESS_KEY", value: "s3-secret-two" });
    for (const fn of api.functions.values()) {
      expect((fn.deployed as { environment_variables: Record<string, string> }).environment_variables.WORKER_QUEUE_URLS).toContain("migrate-worker-2");
    }

    expect(triggersOf("worker").map((t) => [t.name, t.status]).sort()).toEqual([
      ["migrate-worker-0", "ready"],
      ["migrate-worker-1", "ready"],
      ["migrate-worker-2", "ready"],
    ]);
    // The broken trigger: deleted, seen gone, then created again; no 409 from a race.
    const del = reqs.find((q) => q.method === "DELETE" && q.path === `triggers/${broken.id}`)!;
    expect(del).toBeDefined();
    const recreate = reqs.find((q) => q.method === "POST" && q.path === "triggers" && (q.body as { name: string }).name === "migrate-worker-0")!;
    expect(recreate.status).toBe(200);
    const goneSeen = reqs.find((q) => q.method === "GET" && q.path === `triggers/${broken.id}` && q.status === 404);
    expect(goneSeen, "deletion awaited until the trigger is gone").toBeDefined();
    expect(recreate.arrivedAt).toBeGreaterThan(goneSeen!.answeredAt);
    expect(reqs.filter((q) => q.status === 409)).toEqual([]);
    // Unchanged triggers and the cron are kept, not churned.
    expect(reqs.filter((q) => q.method === "POST" && q.path === "triggers").map((q) => (q.body as { name: string }).name).sort()).toEqual(["migrate-worker-0", "migrate-worker-2"]);
    expect(reqs.filter((q) => q.method === "POST" && q.path === "crons")).toEqual([]);
  });

  it("a refused trigger fails the deploy with a message naming it, and a non-zero exit", async () => {
    queues.delete("migrate-worker-2");
    const stale = triggersOf("worker").find((t) => t.name === "migrate-worker-2")!;
    stale.status = "error";
    const r = await serverless(["deploy"], deployEnv({
      WORKER_QUEUE_COUNT: "3",
      WORKER_QUEUE_URLS: urls("migrate-worker-0", "migrate-worker-1", "migrate-worker-2"),
    }));
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/trigger migrate-worker-2 of function worker \(queue migrate-worker-2\) was refused: 404 queue migrate-worker-2 not found/);
    expect(r.output).not.toMatch(/Deployed a new trigger/);
    expect(r.output).not.toMatch(/Unhandled|uncaught|at .*\.js:\d+/i);
  });

  it("the pre-deploy check sees --param values: three worker triggers for two queue URLs is refused before anything is sent", async () => {
    const mark = api.requests.length;
    const r = await serverless(["deploy", "--param=workerQueues=3"], deployEnv());
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/WORKER_QUEUE_URLS lists 2 queues but serverless.yml's 3 worker triggers/);
    expect(r.output).toMatch(/the pre-deploy check refused this deployment/);
    expect(since(mark)).toEqual([]);
  });

  it("the pre-deploy check refuses a missing queue and a visibility timeout under the function timeout, naming each", async () => {
    const prefix = uniqueName("chk").replace(/[^a-z0-9-]/g, "");
    await createQueue(`${prefix}-control`, 960);
    await createQueue(`${prefix}-worker-0`, 60);
    queueUrls.set(`${prefix}-worker-1`, queueUrls.get(`${prefix}-worker-0`)!.replace(/worker-0$/, "worker-1")); // never created
    const mark = api.requests.length;
    const r = await serverless(["deploy"], deployEnv({ QUEUE_PREFIX: prefix, WORKER_QUEUE_URLS: urls(`${prefix}-worker-0`, `${prefix}-worker-1`), CONTROL_QUEUE_URL: urls(`${prefix}-control`) }));
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(new RegExp(`WORKER_QUEUE_URLS entry 1 \\(${prefix}-worker-0\\): visibility timeout 60 s does not exceed the worker timeout 900 s`));
    expect(r.output).toMatch(new RegExp(`WORKER_QUEUE_URLS entry 2 \\(${prefix}-worker-1\\) does not exist`));
    expect(r.output).not.toMatch(/CONTROL_QUEUE_URL/);
    expect(since(mark)).toEqual([]);
  });

  it("serverless remove deletes the namespace, from a clone without bundles", async () => {
    const bare = freshClone();
    try {
      const mark = api.requests.length;
      const r = await runIn(bare.dir, "npx", ["--no", "serverless", "remove"], { ...deployEnv(), HOME: bare.home }, 120_000);
      expect(r.code, r.output).toBe(0);
      expect(r.output).toMatch(/Namespace has been deleted successfully/);
      expect(since(mark).filter((q) => q.method === "DELETE").map((q) => q.path)).toEqual([expect.stringMatching(/^namespaces\//)]);
      expect(api.namespaces.size).toBe(0);
      expect(api.functions.size).toBe(0);
      expect(api.triggers.size + api.crons.size).toBe(0);
    } finally {
      bare.remove();
    }
  });
});
