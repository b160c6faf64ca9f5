/**
 * The ping of `migrate doctor` as the functions see it, on the in-memory
 * ports: accepted by the message validation, answered only when signed and
 * fresh, with the version and the fingerprint of the configuration the
 * function loaded (even a refused one), written under doctor/ when it came
 * through a queue, never touching run state.
 */
import { describe, it, expect } from "vitest";
import { randomBytes } from "node:crypto";
import { createWorkerHandler } from "../../shared/worker/handler.ts";
import { createCoordinatorHandler } from "../../shared/coordinator/handler.ts";
import { InProcessBus } from "../../shared/local/in-process-bus.ts";
import { queueEvent, type FunctionEvent } from "../../shared/runtime/http.ts";
import { ControlMessage, parseMessage, WorkerMessage } from "../../shared/messages.ts";
import { loadConfigValues } from "../../shared/config.ts";
import { ConfigError } from "../../shared/errors.ts";
import { fingerprint, fingerprintDifferences } from "../../shared/runtime/fingerprint.ts";
import { signedPing } from "../../shared/doctor/function-pings.ts";
import type { PingFields } from "../../shared/runtime/ping-signature.ts";
import type { PingAnswer } from "../../shared/runtime/ping.ts";
import type { AccessCheck } from "../../shared/runtime/access-checks.ts";
import { memoryDeps, memoryWorld } from "../support/memory-pipeline.ts";

const SECRET = "queue-secret-of-the-functions";
const ENV = {
  AZURE_STORAGE_CONNECTION_STRING: "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:1/a;",
  S3_ACCESS_KEY_ID: "AK",
  S3_SECRET_ACCESS_KEY: "s3-secret-value",
  STATE_BUCKET: "state",
  SQS_ENDPOINT: "http://127.0.0.1:2",
  SQS_ACCESS_KEY_ID: "QK",
  SQS_SECRET_ACCESS_KEY: SECRET,
  WORKER_QUEUE_URLS: "http://127.0.0.1:2/q/w0, http://127.0.0.1:2/q/w1",
  CONTROL_QUEUE_URL: "http://127.0.0.1:2/q/control",
};
const http = (body: unknown): FunctionEvent => ({ ...queueEvent(JSON.stringify(body)), headers: { "content-type": "application/json", "X-Migrate-Client": "migrate-doctor" } });
const ping = (fields: Partial<PingFields> = {}, secret = SECRET) => signedPing({ id: "doctor-test-1", at: new Date().toISOString(), reply: "http", ...fields }, secret);

function setup(env: Record<string, string> = ENV) {
  const world = memoryWorld();
  const bus = new InProcessBus({ workerQueues: 2, recordSent: true });
  const deps = { ...memoryDeps(world, bus), stateBucket: "state" };
  const configValues = () => loadConfigValues(env);
  return { world, bus, deps, worker: createWorkerHandler(() => deps, { configValues }), coordinator: createCoordinatorHandler(() => deps, { configValues }) };
}

describe("the ping message", () => {
  it("is accepted by both functions' validation; a malformed one is still rejected, naming the field", () => {
    const p = ping({ reply: "state", stateBucket: "state", queue: "migrate-worker-0" });
    expect(parseMessage(WorkerMessage, JSON.stringify(p))).toEqual(p);
    expect(parseMessage(ControlMessage, JSON.stringify(p))).toEqual(p);
    expect(() => parseMessage(WorkerMessage, JSON.stringify({ v: 1, type: "ping", id: "doctor-test-1" }))).toThrow(/invalid message: at/);
    expect(() => parseMessage(WorkerMessage, JSON.stringify({ ...p, sig: "00" }))).toThrow(/invalid message: sig: signature/);
    expect(() => parseMessage(WorkerMessage, JSON.stringify({ ...p, reply: "everything" }))).toThrow(/invalid message: reply/);
  });

  it("a malformed ping through a queue is answered 2xx as rejected, as any malformed message", async () => {
    const { worker } = setup();
    const res = await worker(queueEvent(JSON.stringify({ v: 1, type: "ping", id: "x" })));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body!).rejected).toMatch(/invalid message/);
  });
});

describe("a function answering a ping", () => {
  it("over HTTP: its version and the fingerprint of its configuration, equal to the one computed from the same exports", async () => {
    const { worker, coordinator, world } = setup();
    for (const handler of [worker, coordinator]) {
      const res = await handler(http(ping()));
      expect(res.statusCode).toBe(200);
      const answer = JSON.parse(res.body!) as PingAnswer;
      expect(answer.version).toBe("0.1.0");
      expect(answer.config).toEqual(fingerprint(loadConfigValues(ENV)));
      expect(answer.configError).toBeUndefined();
      expect(JSON.stringify(answer)).not.toContain("s3-secret-value");
      expect(JSON.stringify(answer)).not.toContain(SECRET);
    }
    expect(world.stores.size).toBe(0); // no state read or written
  });

  it("names what differs: a value by its variable, a secret by its name, never a value", () => {
    const mine = fingerprint(loadConfigValues(ENV));
    const theirs = fingerprint(loadConfigValues({ ...ENV, STATE_BUCKET: "other", S3_SECRET_ACCESS_KEY: "" }));
    expect(fingerprintDifferences(mine, theirs)).toEqual(["STATE_BUCKET differs", "secret S3_SECRET_ACCESS_KEY is not set there"]);
    const moved = fingerprint(loadConfigValues({ ...ENV, WORKER_QUEUE_URLS: "http://127.0.0.1:2/q/w0" }));
    expect(fingerprintDifferences(mine, moved)).toEqual(["WORKER_QUEUE_URLS differs"]);
    expect(Object.values(loadConfigValues(ENV).values).filter((v) => v.startsWith("invalid"))).toEqual([]);
    // Defaults are applied on both sides: an unset S3_REGION is fr-par.
    expect(fingerprint(loadConfigValues({ ...ENV, S3_REGION: "fr-par" })).hash).toBe(mine.hash);
    expect(fingerprint(loadConfigValues({ ...ENV, S3_REGION: "nl-ams" })).hash).not.toBe(mine.hash);
  });

  it("with a refused configuration: still answers, saying why", async () => {
    const env = { ...ENV, S3_SECRET_ACCESS_KEY: "" };
    const worker = createWorkerHandler(
      () => {
        throw new ConfigError("S3_SECRET_ACCESS_KEY is not set");
      },
      { configValues: () => loadConfigValues(env) },
    );
    const res = await worker(http(ping()));
    const answer = JSON.parse(res.body!) as PingAnswer;
    expect(res.statusCode).toBe(200);
    expect(answer.configError).toBe("S3_SECRET_ACCESS_KEY is not set");
    expect(answer.config.secrets).not.toContain("S3_SECRET_ACCESS_KEY");
  });

  it("refuses a ping signed with another key, or stale: 401 over HTTP, 2xx from a queue (a retry would not help)", async () => {
    const { worker } = setup();
    const forged = ping({}, "another-secret");
    const stale = ping({ at: new Date(Date.now() - 11 * 60_000).toISOString() });
    expect((await worker(http(forged))).statusCode).toBe(401);
    expect(JSON.parse((await worker(http(forged))).body!).error).toMatch(/signature does not match/);
    expect(JSON.parse((await worker(http(stale))).body!).error).toMatch(/more than 10 min from this function's clock/);
    const queued = await worker(queueEvent(JSON.stringify(forged)));
    expect(queued.statusCode).toBe(200);
    expect(JSON.parse(queued.body!).version).toBeUndefined();
    // Without the secret, a function can not check any ping.
    const keyless = createWorkerHandler(() => setup().deps, { configValues: () => loadConfigValues({ ...ENV, SQS_SECRET_ACCESS_KEY: "" }) });
    expect(JSON.parse((await keyless(http(ping()))).body!).error).toMatch(/SQS_SECRET_ACCESS_KEY is not set in this function/);
  });

  it("through a queue: writes its answer under doctor/ of the state bucket, nothing else", async () => {
    const { worker, world } = setup();
    const res = await worker(queueEvent(JSON.stringify(ping({ reply: "state", stateBucket: "state", queue: "migrate-worker-1" }))));
    expect(res.statusCode).toBe(200);
    const keys: string[] = [];
    for await (const k of world.state("state").list("")) keys.push(k);
    expect(keys).toEqual([".migrate-state/doctor/doctor-test-1/queue-migrate-worker-1.json"]);
    const answer = JSON.parse((await world.state("state").get(keys[0]!))!.body) as PingAnswer;
    expect(answer.function).toBe("worker");
    expect(answer.config.hash).toBe(fingerprint(loadConfigValues(ENV)).hash);
  });

  it("over HTTP with a probe: lists one source page, writes and deletes a probe in each bucket, sends a no-op ping to each queue", async () => {
    const { worker, world, bus } = setup();
    world.source.putBlob("src", "a/1", randomBytes(10));
    world.source.putBlob("src", "a/2", randomBytes(10));
    const res = await worker(http(ping({ probe: { container: "src", prefix: "a/", bucket: "dst" } })));
    const checks = (JSON.parse(res.body!) as PingAnswer).checks as AccessCheck[];
    expect(checks.map((c) => [c.kind, c.target, c.ok])).toEqual([
      ["source", "azure://src/a/", true],
      ["bucket", "s3://dst", true],
      ["bucket", "s3://state", true],
      ["queue", "worker queue 0", true],
      ["queue", "worker queue 1", true],
      ["queue", "control queue", true],
    ]);
    expect(checks[0]!.detail).toBe("listed one page (1 blob)");
    for (const b of ["dst", "state"]) {
      const left: string[] = [];
      for await (const k of world.state(b).list("")) left.push(k);
      expect(left).toEqual([]);
    }
    // The no-op pings are signed: the function that consumes one answers it and does nothing.
    expect(bus.sent).toHaveLength(3);
    for (const sent of bus.sent) {
      expect(JSON.parse(sent.body)).toMatchObject({ type: "ping", reply: "none" });
      const consumed = await worker(queueEvent(sent.body));
      expect(JSON.parse(consumed.body!)).toEqual({ pong: "doctor-test-1" });
    }
  });

  it("reports a check that fails with the error, and goes on with the others", async () => {
    const { deps, world } = setup();
    world.source.putBlob("src", "a/1", randomBytes(10));
    const refusing = Object.assign(Object.create(world.state("dst")), {
      put: async () => {
        throw Object.assign(new Error("Access Denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
      },
    });
    const worker = createWorkerHandler(() => ({ ...deps, state: (b: string) => (b === "dst" ? refusing : world.state(b)) }), { configValues: () => loadConfigValues(ENV) });
    const res = await worker(http(ping({ probe: { container: "src", prefix: "a/", bucket: "dst" } })));
    const checks = (JSON.parse(res.body!) as PingAnswer).checks as AccessCheck[];
    expect(checks.map((c) => [c.target, c.ok])).toEqual([
      ["azure://src/a/", true],
      ["s3://dst", false],
      ["s3://state", true],
      ["worker queue 0", true],
      ["worker queue 1", true],
      ["control queue", true],
    ]);
    expect(checks[1]!.detail).toBe("AccessDenied: HTTP 403: Access Denied");
  });
});
