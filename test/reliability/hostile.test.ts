/**
 * Hostile and odd input on the real servers: bad messages to both handlers,
 * bad configuration, and names, metadata and tags at the edges. Each is copied
 * exactly or refused with a reason for that object; nothing is dropped silently.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { randomBytes } from "node:crypto";
import { GetObjectTaggingCommand, HeadBucketCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import type { ContainerClient } from "@azure/storage-blob";
import { loadConfig } from "../../shared/config.ts";
import { buildDeps } from "../../shared/runtime/composition-root.ts";
import { InProcessBus } from "../../shared/local/in-process-bus.ts";
import { queueEvent, type FunctionEvent, type FunctionResponse } from "../../shared/runtime/http.ts";
import { createWorkerHandler } from "../../shared/worker/handler.ts";
import { createCoordinatorHandler } from "../../shared/coordinator/handler.ts";
import type { Logger } from "../../shared/logger.ts";
import type { RunReport } from "../../shared/state/layout.ts";
import { runCli } from "../support/cli.ts";
import { clients, newBucket, newContainer, serverEnv, uniqueName } from "../support/env.ts";
import { duplicates, getBytes, ledgerOf, listKeys, md5, openUploads, stateObjects, upload } from "./support.ts";

function handlers() {
  const config = loadConfig(serverEnv());
  const logged: string[] = [];
  const log: Logger = { info: (e) => logged.push(e), warn: (e) => logged.push(e), error: (e) => logged.push(e) };
  const deps = buildDeps(config, { bus: new InProcessBus(), log });
  return { worker: createWorkerHandler(() => deps), coordinator: createCoordinatorHandler(() => deps), logged };
}

/** A call of the private coordinator over HTTP: it carries the function's token. */
function httpEvent(body: string, headers: Record<string, string> = {}) {
  return { ...queueEvent(body), headers: { "content-type": "application/json", "X-Auth-Token": "function-jwt", ...headers } };
}

describe("hostile messages to the deployed handlers", () => {
  it("worker: every bad message is answered 2xx and recorded under rejected/ when its run id is readable", async () => {
    const bucket = await newBucket("hostw");
    const { worker } = handlers();
    const base = { v: 1, type: "shard", runId: "hostile-run", stateBucket: bucket, shardId: "s-000000" };
    const recordable: Array<[string, string, RegExp]> = [
      ["oversized", JSON.stringify({ ...base, pad: "x".repeat(300 * 1024) }), /over the 262144-byte limit/],
      ["unknown version", JSON.stringify({ ...base, v: 99 }), /unknown message version 99/],
      ["bad shard id", JSON.stringify({ ...base, shardId: "../../etc/passwd" }), /shardId/],
      ["control message on the worker queue", JSON.stringify({ ...base, type: "start" }), /type/],
      ["shard of a run that does not exist", JSON.stringify(base), /does not exist/],
    ];
    const unrecordable: Array<[string, string]> = [
      ["not JSON", '{"v":1,"type":"shard","runId":"hostile-run",'],
      ["JSON but not an object", "[1,2,3]"],
      ["no run id", JSON.stringify({ ...base, runId: undefined })],
      ["bad state bucket", JSON.stringify({ ...base, stateBucket: "Not_A_Bucket!" })],
      ["empty body", ""],
    ];
    for (const [label, body] of [...recordable.map(([l, b]) => [l, b] as const), ...unrecordable]) {
      const res = await worker(queueEvent(body), {});
      expect(res.statusCode, label).toBe(200);
      expect(JSON.parse(res.body!).rejected, label).toEqual(expect.any(String));
    }
    // A base64 body is decoded the way the platform sends it, then judged the same way.
    const b64 = await worker({ ...queueEvent(Buffer.from(JSON.stringify({ ...base, v: 7 })).toString("base64")), isBase64Encoded: true }, {});
    expect(b64.statusCode).toBe(200);

    const state = await stateObjects(bucket);
    const keys = [...state.keys()];
    expect(keys.every((k) => k.startsWith(".migrate-state/runs/hostile-run/rejected/"))).toBe(true);
    expect(keys).toHaveLength(recordable.length + 1);
    const reasons = [...state.values()].map((b) => JSON.parse(b).reason as string);
    for (const [label, , reason] of recordable) expect(reasons.some((r) => reason.test(r)), label).toBe(true);
    expect(reasons.some((r) => /unknown message version 7/.test(r))).toBe(true);
  });

  it("coordinator: a bad start over HTTP is refused with 400 and writes nothing; other bad control messages are recorded", async () => {
    const bucket = await newBucket("hostc");
    const container = await newContainer("hostc");
    const { coordinator } = handlers();
    const start = { v: 1, type: "start", runId: "hostile-start", source: { container: container.containerName, prefix: "" }, destination: { bucket, prefix: "" } };
    const refused: Array<[string, string]> = [
      ["bad container", JSON.stringify({ ...start, source: { container: "Bad_Container", prefix: "" } })],
      ["unknown version", JSON.stringify({ ...start, v: 2 })],
      ["oversized", JSON.stringify({ ...start, options: { include: Array.from({ length: 300 }, () => "x".repeat(1000)) } })],
      ["bad option", JSON.stringify({ ...start, options: { concurrency: -1 } })],
      ["bad run id", JSON.stringify({ ...start, runId: "../x" })],
      ["destination under the reserved state prefix", JSON.stringify({ ...start, destination: { bucket, prefix: ".migrate-state/x/" } })],
      ["source container that does not exist", JSON.stringify({ ...start, source: { container: "no-such-container-here", prefix: "" } })],
    ];
    for (const [label, body] of refused) {
      const res = await coordinator(httpEvent(body), {});
      expect(res.statusCode, label).toBe(400);
      expect(JSON.parse(res.body!).error, label).toEqual(expect.any(String));
    }
    expect(await listKeys(clients.s3(), bucket)).toEqual([]);

    const bad = await coordinator(queueEvent(JSON.stringify({ v: 1, type: "continue-listing", runId: "hostile-start", stateBucket: bucket, seq: -5 })), {});
    expect(bad.statusCode).toBe(200);
    const keys = await listKeys(clients.s3(), bucket);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^\.migrate-state\/runs\/hostile-start\/rejected\/[0-9a-f]{16}\.json$/);
  });
});

describe("starts delivered by the control queue that can never succeed", () => {
  it("are answered 2xx and recorded with their reason (bad request, bad token, conflicting run id); over HTTP the same starts get 400, 401, 409", async () => {
    const bucket = await newBucket("hostq");
    const container = await newContainer("hostq");
    await upload(container, "a.txt", "a");
    const config = loadConfig({ ...serverEnv(), STATE_BUCKET: bucket });
    const deps = buildDeps(config, { bus: new InProcessBus(), log: { info: () => {}, warn: () => {}, error: () => {} } });
    const coordinator = createCoordinatorHandler(() => deps);
    const withToken = createCoordinatorHandler(() => ({ ...deps, startToken: "the-start-token" }));
    const start = (runId: string, extra: object = {}) => JSON.stringify({ v: 1, type: "start", runId, source: { container: container.containerName, prefix: "" }, destination: { bucket, prefix: "" }, ...extra });

    // Prepare: a run that exists, so that another request under its id conflicts.
    expect((await coordinator(httpEvent(start("taken")), {})).statusCode).toBe(202);
    const cases: Array<[string, (e: FunctionEvent) => Promise<FunctionResponse>, string, number, RegExp, string | undefined]> = [
      ["invalid request", (e) => coordinator(e, {}), start("badreq", { options: { concurrency: -1 } }), 400, /concurrency/, "badreq"],
      ["source that does not exist", (e) => coordinator(e, {}), JSON.stringify({ ...JSON.parse(start("nosrc")), source: { container: "no-such-container-q", prefix: "" } }), 400, /no-such-container-q|does not exist/, "nosrc"],
      ["no start token", (e) => withToken(e, {}), start("notoken"), 401, /X-Migrate-Token/, "notoken"],
      ["conflicting run id", (e) => coordinator(e, {}), start("taken", { destination: { bucket, prefix: "elsewhere/" } }), 409, /.+/, "taken"],
      ["no readable run id", (e) => coordinator(e, {}), JSON.stringify({ v: 1, type: "start", runId: "../x" }), 400, /runId/, undefined],
    ];
    for (const [label, call, body, httpStatus, reason, runId] of cases) {
      // Act: the same start over HTTP, then from the queue
      const overHttp = await call(httpEvent(body));
      const fromQueue = await call(queueEvent(body));
      // Assess
      expect(overHttp.statusCode, label).toBe(httpStatus);
      expect(fromQueue.statusCode, label).toBe(200);
      expect(JSON.parse(fromQueue.body!).rejected, label).toMatch(reason);
      const prefix = runId ? `.migrate-state/runs/${runId}/rejected/` : ".migrate-state/rejected/";
      const recorded = [...(await stateObjects(bucket)).entries()].filter(([k]) => k.startsWith(prefix));
      expect(recorded, label).toHaveLength(1);
      const record = JSON.parse(recorded[0]![1]);
      expect(record, label).toMatchObject({ status: httpStatus, delivery: "queue" });
      expect(record.reason, label).toMatch(reason);
      // A redelivery of the same message is recorded once, and answered 2xx again.
      expect((await call(queueEvent(body))).statusCode, label).toBe(200);
      expect([...(await stateObjects(bucket)).keys()].filter((k) => k.startsWith(prefix)), label).toHaveLength(1);
    }
    // No run was created for the refused starts, and the token never reached the records.
    const keys = [...(await stateObjects(bucket)).keys()];
    expect(keys.filter((k) => k.endsWith("/run.json"))).toEqual([".migrate-state/runs/taken/run.json"]);
    for (const v of (await stateObjects(bucket)).values()) expect(v).not.toContain("the-start-token");
  });
});

describe("bad configuration", () => {
  it("exits 2 naming the variable, before writing anything", async () => {
    const container = await newContainer("hostcfg");
    const fresh = uniqueName("never");
    const args = ["run", "--from", `azure://${container.containerName}`, "--to", `s3://${fresh}`];
    const without = (name: string) => Object.fromEntries(Object.entries(serverEnv()).filter(([k]) => k !== name));
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ["S3_ENDPOINT not a URL", { ...serverEnv(), S3_ENDPOINT: "not a url" }, /S3_ENDPOINT/],
      ["S3_ENDPOINT ftp", { ...serverEnv(), S3_ENDPOINT: "ftp://127.0.0.1:21" }, /S3_ENDPOINT/],
      ["bad S3_FORCE_PATH_STYLE", { ...serverEnv(), S3_FORCE_PATH_STYLE: "maybe" }, /S3_FORCE_PATH_STYLE/],
      ["PART_SIZE_MB under the S3 minimum", { ...serverEnv(), PART_SIZE_MB: "3" }, /PART_SIZE_MB/],
      ["FUNCTION_TIMEOUT_SECONDS under 10", { ...serverEnv(), FUNCTION_TIMEOUT_SECONDS: "5" }, /FUNCTION_TIMEOUT_SECONDS/],
      ["no Azure credentials", without("AZURE_STORAGE_CONNECTION_STRING"), /AZURE_STORAGE_CONNECTION_STRING/],
      ["account without key or SAS", { ...without("AZURE_STORAGE_CONNECTION_STRING"), AZURE_STORAGE_ACCOUNT: "acct1" }, /AZURE_STORAGE_KEY/],
      ["no S3 access key", without("S3_ACCESS_KEY_ID"), /S3_ACCESS_KEY_ID/],
    ];
    const results = await Promise.all(cases.map(([, env]) => runCli(args, env)));
    for (const [i, [label, , pattern]] of cases.entries()) {
      expect(results[i]!.code, `${label}: ${results[i]!.stderr}`).toBe(2);
      expect(results[i]!.stderr, label).toMatch(pattern);
      expect(results[i]!.stderr, label).not.toMatch(/\n\s+at /);
    }
    await expect(clients.s3().send(new HeadBucketCommand({ Bucket: fresh }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
  });
});

describe("odd names, metadata and tags", () => {
  let container: ContainerClient;
  let bucket: string;
  const bodies = new Map<string, Buffer>();
  const metadata = new Map<string, Record<string, string>>();
  const tags = new Map<string, Record<string, string>>();
  const LONG_OK = "L".repeat(1020);
  const LONG_REFUSED = `M/${"m".repeat(1022)}`;
  const TEN_TAGS = {
    "a b": "c d",
    "k+plus": "v+plus",
    "k-dash": "v-dash",
    "k.dot": "v.dot",
    "k/slash": "v/slash",
    "k:colon": "v:colon",
    "k=eq": "v=eq",
    k_under: "v_under",
    empty: "",
    K9: "9",
  };

  beforeAll(async () => {
    container = await newContainer("odd");
    bucket = await newBucket("odd");
    const blobs: Array<[string, Buffer, Record<string, string>?, Record<string, string>?]> = [
      ["unicode/é文件名 ü 😀.txt", randomBytes(700)],
      ["spaces/a  b c.txt", randomBytes(701)],
      ["pct/100% done %41.txt", randomBytes(702)],
      ["hash/#1 #2.txt", randomBytes(703)],
      ["query/what?x=1&y=2", randomBytes(704)],
      ["plus/a+b c.txt", randomBytes(705)],
      ["double//slash.txt", randomBytes(706)],
      ["empty.bin", Buffer.alloc(0)],
      ["dir-marker/", Buffer.alloc(0)],
      ["dir-marker/child.txt", randomBytes(10)],
      [LONG_OK, randomBytes(707)],
      [LONG_REFUSED, randomBytes(708)],
      ["meta/reserved-name", randomBytes(709), { md5chksum: "forged", owner: "ops" }],
      ["meta/over-2kb", randomBytes(710), { first: "x".repeat(1200), second: "y".repeat(1200) }],
      ["meta/underscore", randomBytes(711), { a_b: "1", Mixed_Case: "2" }],
      ["tags/ten", randomBytes(712), undefined, TEN_TAGS],
    ];
    for (const [name, body, meta, t] of blobs) {
      await upload(container, name, body, { metadata: meta, tags: t });
      bodies.set(name, body);
      metadata.set(name, meta ?? {});
      tags.set(name, t ?? {});
    }
  });

  it("Azurite itself refuses an 11th tag and characters S3 would refuse, so those limits are the mapping's unit tests' job", async () => {
    const b = container.getBlockBlobClient("probe-tags");
    const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`t${i}`, "v"]));
    await expect(b.upload("x", 1, { tags: eleven })).rejects.toMatchObject({ statusCode: 400 });
    await expect(b.upload("x", 1, { tags: { "k!": "v" } })).rejects.toMatchObject({ statusCode: 400 });
  });

  it("copies each exactly, or refuses it with a reason for that object; every metadata loss is a warning naming it", async () => {
    const res = await runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}/dst`, "--json", "--run-id", "odd", "--exclude", "probe-tags"], serverEnv());
    const report = JSON.parse(res.stdout) as RunReport;
    // Only the name that becomes a key over S3's 1024 bytes is refused, with a reason.
    expect(report.failures, res.stderr.slice(-500)).toEqual([{ key: `dst/${LONG_REFUSED}`, reason: expect.stringMatching(/1024|too long|KeyTooLong/i) }]);
    expect(res.code).toBe(1);
    expect(report.objects).toMatchObject({ planned: bodies.size, copied: bodies.size - 1, failed: 1 });

    const s3 = clients.s3();
    for (const [name, body] of bodies) {
      if (name === LONG_REFUSED) continue;
      const key = `dst/${name}`;
      expect(md5(await getBytes(s3, bucket, key)), name).toBe(md5(body));
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      const warned = report.warnings.filter((w) => w.key === key).map((w) => w.warning);
      for (const [k, v] of Object.entries(metadata.get(name)!)) {
        const lower = k.toLowerCase();
        const carried = head.Metadata?.[lower] === v || head.Metadata?.[lower.replace(/_/g, "-")] === v;
        const named = warned.some((w) => w.includes(`"${k}"`) || w.includes(`"${lower}"`));
        expect(carried || named, `${name}: metadata ${k} neither carried nor reported`).toBe(true);
        if (!carried) expect(named, `${name}: metadata ${k}`).toBe(true);
      }
      const got = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
      expect(Object.fromEntries((got.TagSet ?? []).map((t) => [t.Key, t.Value])), name).toEqual(tags.get(name));
    }
    // The reserved marker name is never overwritten by a forged source value.
    const reserved = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "dst/meta/reserved-name" }));
    expect(reserved.Metadata?.md5chksum).toBe(Buffer.from(md5(bodies.get("meta/reserved-name")!), "hex").toString("base64"));
    expect(report.warnings).toContainEqual({ key: "dst/meta/reserved-name", warning: expect.stringMatching(/md5chksum.*reserved/) });
    expect(report.warnings).toContainEqual({ key: "dst/meta/over-2kb", warning: expect.stringMatching(/"second".*2048 bytes/) });

    const ledger = await ledgerOf(bucket, "odd");
    expect(ledger.map((e) => e.key).sort()).toEqual([...bodies.keys()].map((n) => `dst/${n}`).sort());
    expect(duplicates(ledger.map((e) => e.key))).toEqual([]);
    expect(await openUploads(bucket)).toEqual([]);
  });
});
