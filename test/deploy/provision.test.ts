import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { GetQueueAttributesCommand, SetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { GetBucketLifecycleConfigurationCommand, HeadBucketCommand } from "@aws-sdk/client-s3";
import { createSqsClient } from "../../shared/sdk-clients.ts";
import { ConfigError } from "../../shared/errors.ts";
import { DEFAULT_PROVISION_OPTIONS, type ProvisionOptions } from "../../shared/provision/options.ts";
import { formatProvisionReport } from "../../shared/provision/report.ts";
import { provision, type ProvisionDeps } from "../../shared/provision/provision.ts";
import { ABORT_MULTIPART_RULE_ID, putLifecycleRules } from "../../shared/provision/bucket.ts";
import {
  createScalewayQueuesApi,
  type NewQueueCredential,
  type QueueCredential,
  type QueuePermissions,
  type QueuesInfo,
  type ScalewayQueuesApi,
} from "../../shared/provision/scaleway-queues.ts";
import { main } from "../../shared/cli/main.ts";
import { clients, serverEnv, sqsConfig, uniqueName } from "../support/env.ts";

/**
 * Scaleway's control plane in memory: activation and credentials. Queue
 * credentials it hands out are accepted by fauxqs (which does not check keys),
 * and its endpoint is the suite's fauxqs.
 */
class FakeScalewayQueues implements ScalewayQueuesApi {
  active = false;
  readonly credentials: NewQueueCredential[] = [];
  readonly calls: string[] = [];
  constructor(private readonly endpoint: string) {}
  private info(): QueuesInfo {
    return { status: this.active ? "enabled" : "disabled", endpoint: this.active ? this.endpoint : "", projectId: "p", region: "fr-par" };
  }
  async getSqsInfo() {
    this.calls.push("getSqsInfo");
    return this.info();
  }
  async activateSqs() {
    this.calls.push("activateSqs");
    this.active = true;
    return this.info();
  }
  async createSqsCredentials({ name, permissions }: { name: string; permissions: QueuePermissions }) {
    this.calls.push(`createSqsCredentials:${name}`);
    const n = this.credentials.length + 1;
    const c = { id: `id-${n}`, name, accessKey: `AK${n}${name}`, secretKey: `secret-${n}-${name}-only-once`, permissions };
    this.credentials.push(c);
    return c;
  }
  async listSqsCredentials(): Promise<QueueCredential[]> {
    this.calls.push("listSqsCredentials");
    return this.credentials.map(({ secretKey: _secret, ...rest }) => rest);
  }
}

function options(overrides: Partial<ProvisionOptions> = {}): ProvisionOptions {
  return { ...DEFAULT_PROVISION_OPTIONS, queuePrefix: uniqueName("mig"), sqsRegion: sqsConfig().region, ...overrides };
}

function deps(scaleway: ScalewayQueuesApi | undefined, extra: Partial<ProvisionDeps> = {}): ProvisionDeps {
  return { scaleway, createSqsClient: (c) => createSqsClient(c, undefined), s3: clients.s3(), sleep: async () => {}, ...extra };
}

async function attributes(url: string) {
  const out = await clients.sqs().send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["All"] }));
  return out.Attributes ?? {};
}

describe("provision against fauxqs and Ceph RGW", () => {
  it("creates credentials, queues with retention, visibility and redrive, and a bucket with the abort-multipart rule; a second run changes nothing", async () => {
    // Prepare
    const api = new FakeScalewayQueues(sqsConfig().endpoint!);
    const bucket = uniqueName("dst");
    const opts = options({ workerQueues: 3, workerTimeoutSeconds: 900, coordinatorTimeoutSeconds: 600, buckets: [bucket], stateBucket: bucket, abortIncompleteMultipartDays: 3 });

    // Act
    const first = await provision(opts, deps(api));

    // Assess: control plane
    expect(first.changed).toBe(true);
    expect(api.active).toBe(true);
    expect(api.credentials.map((c) => [c.name, c.permissions])).toEqual([
      [`${opts.queuePrefix}-functions`, { canPublish: true, canReceive: true, canManage: false }],
      [`${opts.queuePrefix}-provision`, { canPublish: false, canReceive: false, canManage: true }],
    ]);
    // Assess: queues
    const { workers, control, deadLetter } = first.queues;
    expect(workers.map((w) => w.name)).toEqual([0, 1, 2].map((i) => `${opts.queuePrefix}-worker-${i}`));
    const dlq = await attributes(deadLetter.url);
    expect(dlq.MessageRetentionPeriod).toBe(String(14 * 24 * 3600));
    for (const w of workers) {
      const a = await attributes(w.url);
      expect(a.MessageRetentionPeriod).toBe(String(4 * 24 * 3600));
      expect(a.VisibilityTimeout).toBe("960");
      expect(JSON.parse(a.RedrivePolicy!)).toMatchObject({ deadLetterTargetArn: dlq.QueueArn });
      expect(Number(JSON.parse(a.RedrivePolicy!).maxReceiveCount)).toBe(5);
    }
    const c = await attributes(control.url);
    expect(c.VisibilityTimeout).toBe("660");
    expect(JSON.parse(c.RedrivePolicy!).deadLetterTargetArn).toBe(dlq.QueueArn);
    // Assess: bucket and lifecycle rule, read back
    await clients.s3().send(new HeadBucketCommand({ Bucket: bucket }));
    const lc = await clients.s3().send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
    const rule = lc.Rules?.find((r) => r.ID === ABORT_MULTIPART_RULE_ID);
    expect(rule?.Status).toBe("Enabled");
    expect(rule?.AbortIncompleteMultipartUpload?.DaysAfterInitiation).toBe(3);
    // Assess: exports, with the secret of the new functions credential (and only that one for functions)
    const env = Object.fromEntries(first.exports.map((e) => [e.name, e.value]));
    expect(env.WORKER_QUEUE_URLS).toBe(workers.map((w) => w.url).join(","));
    expect(env.CONTROL_QUEUE_URL).toBe(control.url);
    expect(env.STATE_BUCKET).toBe(bucket);
    expect(env.WORKER_QUEUE_COUNT).toBe("3");
    expect(env.SQS_SECRET_ACCESS_KEY).toBe(api.credentials[0]!.secretKey);
    expect(first.adminExports.map((e) => e.name)).toEqual(["SQS_ADMIN_ACCESS_KEY_ID", "SQS_ADMIN_SECRET_ACCESS_KEY"]);
    const report = formatProvisionReport(first);
    expect(report).toContain(`export SQS_SECRET_ACCESS_KEY=${api.credentials[0]!.secretKey}`);
    expect(report).toMatch(/^Provisioned\.$/m);

    // Act: second run, with the provisioning credential the first run printed
    const admin = api.credentials[1]!;
    const callsBefore = api.calls.length;
    const second = await provision(opts, deps(api, { adminCredentials: { accessKeyId: admin.accessKey, secretAccessKey: admin.secretKey } }));

    // Assess: nothing changed, nothing created, no secret printed
    expect(second.changed).toBe(false);
    expect(second.steps.filter((s) => s.action !== "unchanged" && s.action !== "reused")).toEqual([]);
    expect(api.calls.slice(callsBefore).filter((c) => c !== "getSqsInfo" && c !== "listSqsCredentials")).toEqual([]);
    expect(second.queues.workers.map((w) => w.url)).toEqual(workers.map((w) => w.url));
    expect(second.exports.some((e) => e.secret)).toBe(false);
    expect(second.adminExports).toEqual([]);
    const again = formatProvisionReport(second);
    expect(again).toContain("Nothing to change");
    for (const cred of api.credentials) expect(again).not.toContain(cred.secretKey);
  });

  it("brings drifted queue attributes back and keeps the bucket's other lifecycle rules", async () => {
    // Prepare: a provisioned setup, then drift
    const bucket = uniqueName("dst");
    const opts = options({ workerQueues: 1, buckets: [bucket] });
    const admin = { accessKeyId: sqsConfig().accessKeyId, secretAccessKey: sqsConfig().secretAccessKey };
    const local = deps(undefined, { sqsEndpoint: sqsConfig().endpoint, adminCredentials: admin });
    const first = await provision(opts, local);
    const worker = first.queues.workers[0]!;
    await clients.sqs().send(new SetQueueAttributesCommand({ QueueUrl: worker.url, Attributes: { VisibilityTimeout: "30", MessageRetentionPeriod: "60" } }));
    const s3 = clients.s3();
    const ours = (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules!.find((r) => r.ID === ABORT_MULTIPART_RULE_ID)!;
    await putLifecycleRules(s3, bucket, [
      { ...ours, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 30 } },
      { ID: "operator-expire-tmp", Status: "Enabled", Filter: { Prefix: "tmp/" }, Expiration: { Days: 2 } },
    ]);

    // Act
    const second = await provision(opts, local);

    // Assess
    const step = second.steps.find((s) => s.name === worker.name)!;
    expect(step.action).toBe("updated");
    expect(second.queues.workers[0]!.changed.sort()).toEqual(["MessageRetentionPeriod", "VisibilityTimeout"]);
    const a = await attributes(worker.url);
    expect(a.VisibilityTimeout).toBe("960");
    expect(a.MessageRetentionPeriod).toBe(String(4 * 24 * 3600));
    expect(second.steps.find((s) => s.kind === "lifecycle")!.action).toBe("updated");
    const rules = (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules!;
    expect(rules.map((r) => r.ID).sort()).toEqual([ABORT_MULTIPART_RULE_ID, "operator-expire-tmp"].sort());
    expect(rules.find((r) => r.ID === ABORT_MULTIPART_RULE_ID)!.AbortIncompleteMultipartUpload!.DaysAfterInitiation).toBe(DEFAULT_PROVISION_OPTIONS.abortIncompleteMultipartDays);
    expect(second.changed).toBe(true);
  });

  it("sends the lifecycle configuration with Content-MD5 instead of the SDK's CRC32 header", async () => {
    const bucket = uniqueName("dst");
    const s3 = clients.s3();
    const seen: Array<Record<string, string>> = [];
    s3.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { method?: string; query?: Record<string, unknown>; headers: Record<string, string> };
        if (req.method === "PUT" && req.query && "lifecycle" in req.query) seen.push({ ...req.headers });
        return next(args);
      },
      { step: "finalizeRequest", priority: "low", name: "recordLifecycleHeaders" },
    );
    const admin = { accessKeyId: sqsConfig().accessKeyId, secretAccessKey: sqsConfig().secretAccessKey };
    await provision(options({ workerQueues: 1, buckets: [bucket] }), deps(undefined, { s3, sqsEndpoint: sqsConfig().endpoint, adminCredentials: admin }));
    expect(seen).toHaveLength(1);
    expect(seen[0]!["content-md5"]).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(Object.keys(seen[0]!).filter((h) => /^x-amz-checksum-/.test(h))).toEqual([]);
  });

  it("refuses, before changing anything, when the provisioning credential exists and its secret is not given", async () => {
    // Prepare: a project where an earlier run created the credentials
    const api = new FakeScalewayQueues(sqsConfig().endpoint!);
    const opts = options({ workerQueues: 1 });
    await provision(opts, deps(api));
    const created = api.credentials.length;

    // Act: run again without SQS_ADMIN_* (deps.adminCredentials)
    const err = await provision(opts, deps(api)).catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain("SQS_ADMIN_ACCESS_KEY_ID");
    expect(api.credentials.length).toBe(created);
    const wrong = await provision(opts, deps(api, { adminCredentials: { accessKeyId: "not-it", secretAccessKey: "x".repeat(20) } })).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(ConfigError);
  });

  it("rejects options the platform would reject", async () => {
    const local = deps(undefined, { sqsEndpoint: sqsConfig().endpoint, adminCredentials: { accessKeyId: "a", secretAccessKey: "b" } });
    for (const bad of [{ queuePrefix: "Bad_Prefix" }, { workerQueues: 0 }, { workerQueues: 41 }, { workerTimeoutSeconds: 5 }, { maxReceiveCount: 0 }, { retentionSeconds: 30 }]) {
      await expect(provision(options(bad), local)).rejects.toBeInstanceOf(ConfigError);
    }
  });
});

describe("migrate provision (CLI)", () => {
  async function cli(args: string[], env: Record<string, string>) {
    const saved = { ...process.env };
    const out: string[] = [];
    const err: string[] = [];
    const write = process.stdout.write;
    const writeErr = process.stderr.write;
    Object.assign(process.env, env);
    process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      const code = await main(["node", "migrate", "provision", ...args]);
      return { code, stdout: out.join(""), stderr: err.join("") };
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeErr;
      process.env = saved;
    }
  }

  it("provisions against a given SQS server, prints the exports, and says so when a second run changes nothing", async () => {
    const q = sqsConfig();
    const env: Record<string, string> = { ...serverEnv(), SQS_ACCESS_KEY_ID: q.accessKeyId, SQS_SECRET_ACCESS_KEY: q.secretAccessKey, SQS_REGION: q.region };
    const prefix = uniqueName("cli");
    const bucket = uniqueName("dst");
    const args = ["--sqs-endpoint", q.endpoint!, "--queue-prefix", prefix, "--worker-queues", "2", "--bucket", bucket];

    const first = await cli(args, env);
    const second = await cli(args, env);

    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^created\s+queue\s+\S+-dlq$/m);
    expect(first.stdout).toMatch(/^export WORKER_QUEUE_URLS=\S+,\S+$/m);
    expect(first.stdout).toContain(`export CONTROL_QUEUE_URL=`);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("Nothing to change");
    expect(second.stdout).not.toMatch(/^(created|updated)/m);
    // The operator's own secrets are never echoed.
    for (const out of [first.stdout, second.stdout]) {
      expect(out).not.toContain(env.S3_SECRET_ACCESS_KEY!);
      expect(out).not.toContain(`SQS_SECRET_ACCESS_KEY=`);
    }
  });

  it("exits 2 with a message naming what is missing", async () => {
    const r = await cli([], { SCW_ACCESS_KEY: "", SCW_SECRET_KEY: "" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("SCW_ACCESS_KEY");
  });
});

// ---------------------------------------------------------------------------

interface Exchange {
  request: { method: string; path: string; query?: Record<string, string>; body?: Record<string, unknown> };
  response: { status: number; body: unknown };
}
interface Fixtures {
  projectId: string;
  secretKey: string;
  accessKey: string;
  scenarios: Record<string, Exchange[]>;
}
const fixtures = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "fixtures", "scaleway-queues-api.json"), "utf8")) as Fixtures;

/** A fetch that answers the scenario's exchanges in order and fails on any request it does not expect. */
function replay(exchanges: Exchange[]) {
  const seen: Array<{ method: string; url: URL; token: string | null; body: unknown }> = [];
  let next = 0;
  const fetchImpl = (async (input: Request | string | URL, init?: RequestInit) => {
    const req = input instanceof Request ? input : new Request(input, init);
    const url = new URL(req.url);
    const text = req.method === "GET" ? "" : await req.text();
    const body = text ? JSON.parse(text) : undefined;
    seen.push({ method: req.method, url, token: req.headers.get("x-auth-token"), body });
    const ex = exchanges[next++];
    if (!ex) throw new Error(`unexpected request ${req.method} ${url.pathname}`);
    expect(`${req.method} ${url.origin}${url.pathname}`).toBe(`${ex.request.method} https://api.scaleway.com${ex.request.path}`);
    for (const [k, v] of Object.entries(ex.request.query ?? {})) expect(url.searchParams.get(k), `query ${k}`).toBe(v);
    if (ex.request.body) expect(body).toMatchObject(ex.request.body);
    return new Response(JSON.stringify(ex.response.body), { status: ex.response.status, headers: { "content-type": "application/json" } });
  }) as typeof fetch;
  return { fetch: fetchImpl, seen, done: () => next === exchanges.length };
}

function sdkApi(fetchImpl: typeof fetch) {
  return createScalewayQueuesApi({ accessKey: fixtures.accessKey, secretKey: fixtures.secretKey, projectId: fixtures.projectId, region: "fr-par", fetch: fetchImpl });
}

describe("Scaleway Queues API on @scaleway/sdk, against recorded exchanges", () => {
  it("activates Queues, lists credentials and creates one, authenticated with the secret key", async () => {
    const r = replay(fixtures.scenarios["fresh project: activate, list, create"]!);
    const api = sdkApi(r.fetch);

    const before = await api.getSqsInfo();
    const after = await api.activateSqs();
    const listed = await api.listSqsCredentials();
    const created = await api.createSqsCredentials({ name: "migrate-functions", permissions: { canPublish: true, canReceive: true, canManage: false } });

    expect(before.status).toBe("disabled");
    expect(after).toEqual({ status: "enabled", endpoint: "https://sqs.mnq.fr-par.scaleway.com", projectId: fixtures.projectId, region: "fr-par" });
    expect(listed).toEqual([]);
    expect(created).toEqual({
      id: "aaaaaaaa-0000-4000-8000-000000000001",
      name: "migrate-functions",
      accessKey: "FnAccessKey0000000001",
      secretKey: "fn-secret-shown-once-0000000000000000001",
      permissions: { canPublish: true, canReceive: true, canManage: false },
    });
    expect(r.done()).toBe(true);
    expect(r.seen.every((s) => s.token === fixtures.secretKey)).toBe(true);
  });

  it("reads every page of credentials, without secrets", async () => {
    const r = replay(fixtures.scenarios["credentials listed over two pages"]!);
    const listed = await sdkApi(r.fetch).listSqsCredentials();
    expect(listed.map((c) => [c.name, c.accessKey])).toEqual([
      ["migrate-functions", "FnAccessKey0000000001"],
      ["migrate-provision", "AdAccessKey0000000002"],
      ["someone-else", "OtAccessKey0000000003"],
    ]);
    expect(listed[2]!.permissions).toEqual({ canPublish: true, canReceive: false, canManage: false });
    expect(listed.every((c) => !("secretKey" in c))).toBe(true);
    expect(r.done()).toBe(true);
  });

  it("drives provision end to end with the SDK client: a fresh project gets activated and its credentials created", async () => {
    // The control plane answers from fixtures; the queues are created on fauxqs.
    // Nothing to list before activation: the run goes info, activate, then creates both credentials.
    const exchanges = fixtures.scenarios["fresh project: activate, list, create"]!.filter((e) => !(e.request.method === "GET" && e.request.path.endsWith("/sqs-credentials")));
    const provisionCredential: Exchange = {
      request: { method: "POST", path: "/mnq/v1beta1/regions/fr-par/sqs-credentials", body: { name: "migrate-provision", permissions: { can_publish: false, can_receive: false, can_manage: true } } },
      response: { status: 200, body: { id: "aaaaaaaa-0000-4000-8000-000000000002", name: "migrate-provision", project_id: fixtures.projectId, region: "fr-par", access_key: "AdAccessKey0000000002", secret_key: "admin-secret-shown-once-000000000000002", secret_checksum: "beef", permissions: { can_publish: false, can_receive: false, can_manage: true } } },
    };
    const r = replay([...exchanges, provisionCredential]);
    const prefix = "migrate";
    const result = await provision(
      { ...DEFAULT_PROVISION_OPTIONS, queuePrefix: prefix, workerQueues: 1, sqsRegion: sqsConfig().region },
      {
        scaleway: sdkApi(r.fetch),
        // Scaleway reported its own endpoint; the queues of this test live on fauxqs.
        createSqsClient: (cfg) => {
          expect(cfg.endpoint).toBe("https://sqs.mnq.fr-par.scaleway.com");
          expect(cfg.accessKeyId).toBe("AdAccessKey0000000002");
          return createSqsClient({ ...sqsConfig(), region: cfg.region }, undefined);
        },
        sleep: async () => {},
      },
    );
    expect(r.done()).toBe(true);
    expect(result.steps.slice(0, 3).map((s) => [s.kind, s.name, s.action])).toEqual([
      ["queues", "Queues (fr-par)", "activated"],
      ["credential", "migrate-functions", "created"],
      ["credential", "migrate-provision", "created"],
    ]);
    const env = Object.fromEntries(result.exports.map((e) => [e.name, e.value]));
    expect(env.SQS_ENDPOINT).toBe("https://sqs.mnq.fr-par.scaleway.com");
    expect(env.SQS_ACCESS_KEY_ID).toBe("FnAccessKey0000000001");
    expect(env.SQS_SECRET_ACCESS_KEY).toBe("fn-secret-shown-once-0000000000000000001");
  });

  it("turns an API refusal into an error that does not carry the secret key", async () => {
    const r = replay(fixtures.scenarios["permission denied"]!);
    const err = await sdkApi(r.fetch).getSqsInfo().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toMatch(/permission|denied|403/i);
    expect(JSON.stringify(err) + String((err as Error).message) + String((err as Error).stack)).not.toContain(fixtures.secretKey);
  });

  it("refuses malformed keys without quoting them", () => {
    const bad = "not-a-uuid-but-a-secret-value";
    let err: unknown;
    try {
      createScalewayQueuesApi({ accessKey: fixtures.accessKey, secretKey: bad, projectId: fixtures.projectId, region: "fr-par" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toContain(bad);
    expect(() => createScalewayQueuesApi({ accessKey: fixtures.accessKey, secretKey: fixtures.secretKey, projectId: fixtures.projectId, region: "pl-waw" })).toThrow(ConfigError);
  });
});
