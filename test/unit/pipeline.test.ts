import { describe, it, expect } from "vitest";
import { randomBytes, createHash } from "node:crypto";
import { memoryWorld, runPipeline, startRequest, type MemoryWorld } from "../support/memory-pipeline.ts";
import type { ShardManifest } from "../../shared/state/layout.ts";
import { createWorkerHandler } from "../../shared/worker/handler.ts";
import { createCoordinatorHandler } from "../../shared/coordinator/handler.ts";
import { memoryDeps } from "../support/memory-pipeline.ts";
import { InProcessBus } from "../../shared/local/in-process-bus.ts";
import { queueEvent } from "../../shared/runtime/http.ts";
import { InstrumentedSink } from "../fakes/instrumented.ts";

const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

function seed(world: MemoryWorld, n: number) {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const dir = i % 5 === 0 ? "tmp" : "data";
    const ext = i % 3 === 0 ? "csv" : "bin";
    const name = `${dir}/f${String(i).padStart(5, "0")}.${ext}`;
    world.source.putBlob("src", name, randomBytes(i % 7), { metadata: { i: String(i) } });
    names.push(name);
  }
  return names;
}

async function manifests(world: MemoryWorld, runId: string): Promise<ShardManifest[]> {
  const store = world.state("dst");
  const out: ShardManifest[] = [];
  for await (const key of store.list(`.migrate-state/runs/${runId}/shards/`)) out.push(JSON.parse((await store.get(key))!.body));
  return out;
}

describe("pipeline on in-memory adapters", () => {
  it("cuts filtered listings into bounded shards, each blob in exactly one", async () => {
    // Prepare
    const world = memoryWorld();
    const names = seed(world, 2500);
    const expected = names.filter((n) => n.endsWith(".csv") && !n.startsWith("tmp/"));
    // Act
    const { report } = await runPipeline(world, startRequest({ options: { include: ["*.csv"], exclude: ["tmp/**"], dryRun: true, shardMaxObjects: 100 } }));
    // Assess
    const shards = await manifests(world, "run-test");
    const planned = shards.flatMap((s) => s.blobs.map((b) => b.name));
    expect(planned.sort()).toEqual(expected.sort());
    expect(new Set(planned).size).toBe(planned.length);
    expect(shards.every((s) => s.blobs.length <= 100)).toBe(true);
    expect(shards.map((s) => s.shardId)).toEqual(shards.map((_, i) => `s-${String(i).padStart(6, "0")}`));
    expect(report.objects.planned).toBe(expected.length);
    expect(report.objects.filteredOut).toBe(names.length - expected.length);
    expect(report.objects.copied).toBe(0);
    expect(world.sink.calls.put ?? 0).toBe(0);
  });

  it("spreads listing over many invocations under a tiny deadline with the same shards", async () => {
    const a = memoryWorld();
    const b = memoryWorld();
    seed(a, 600);
    seed(b, 600);
    const options = { include: ["*.csv", "*.bin"], dryRun: true, shardMaxObjects: 32 };
    const relaxed = await runPipeline(a, startRequest({ options }));
    const rushed = await runPipeline(b, startRequest({ options }), { coordinatorTimeoutMs: 1 });
    const continues = rushed.bus.sent.filter((m) => m.body.includes('"continue-listing"')).length;
    expect(continues).toBeGreaterThan(3);
    const names = (ms: ShardManifest[]) => ms.flatMap((m) => m.blobs.map((x) => x.name)).sort();
    const ma = await manifests(a, "run-test");
    const mb = await manifests(b, "run-test");
    expect(names(mb)).toEqual(names(ma));
    expect(new Set(names(mb)).size).toBe(600);
    expect(rushed.report.objects.planned).toBe(relaxed.report.objects.planned);
  });

  it("copies every object once; totals of the report equal the ledger's", async () => {
    const world = memoryWorld();
    const bodies = new Map<string, Buffer>();
    for (let i = 0; i < 60; i++) {
      const body = randomBytes(i === 7 ? 11 * 1024 * 1024 : 100 + i);
      bodies.set(`a/${i}`, body);
      world.source.putBlob("src", `a/${i}`, body, { withMd5: i % 2 === 0 });
    }
    const { report, ledger } = await runPipeline(world, startRequest({ sourcePrefix: "a/", destPrefix: "b/", options: { shardMaxObjects: 7 } }));
    expect(report.status).toBe("succeeded");
    expect(report.objects).toMatchObject({ planned: 60, copied: 60, skipped: 0, failed: 0 });
    expect(ledger).toHaveLength(60);
    expect(new Set(ledger.map((l: { key: string }) => l.key)).size).toBe(60);
    expect(ledger.reduce((s: number, l: { size: number }) => s + l.size, 0)).toBe(report.bytes.copied);
    for (const [name, body] of bodies) expect(md5(world.sink.getObject("dst", name.replace(/^a\//, "b/"))!.body)).toBe(md5(body));
    expect(world.sink.openUploads()).toBe(0);
  });

  it("gives the same result when every message is delivered twice, in reverse order", async () => {
    const world = memoryWorld();
    for (let i = 0; i < 40; i++) world.source.putBlob("src", `k${i}`, randomBytes(50 + i));
    const { report, ledger } = await runPipeline(world, startRequest({ options: { shardMaxObjects: 3 } }), {
      deliveryFilter: (_t, bodies) => [...bodies, ...bodies].reverse(),
    });
    expect(report.objects).toMatchObject({ planned: 40, copied: 40, failed: 0 });
    expect(ledger.map((l: { key: string }) => l.key).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `k${i}`).sort());
    expect(world.sink.openUploads()).toBe(0);
  });

  it("a second run over unchanged data copies nothing and reads no object bytes", async () => {
    const world = memoryWorld();
    for (let i = 0; i < 20; i++) world.source.putBlob("src", `k${i}`, randomBytes(10 + i));
    await runPipeline(world, startRequest({ runId: "first" }));
    const before = world.source.bytesRead;
    const { report } = await runPipeline(world, startRequest({ runId: "second" }));
    expect(report.objects).toMatchObject({ planned: 20, copied: 0, skipped: 20 });
    expect(world.source.bytesRead).toBe(before);
  });

  it("the same run id started twice is one run", async () => {
    const world = memoryWorld();
    for (let i = 0; i < 5; i++) world.source.putBlob("src", `k${i}`, randomBytes(10));
    const first = await runPipeline(world, startRequest({ runId: "same" }));
    const putsAfterFirst = world.sink.calls.put;
    const again = await runPipeline(world, startRequest({ runId: "same" }));
    expect(again.report).toEqual(first.report);
    expect(world.sink.calls.put).toBe(putsAfterFirst);
  });

  it("refuses a different request under an existing run id", async () => {
    const world = memoryWorld();
    world.source.putBlob("src", "k", randomBytes(10));
    await runPipeline(world, startRequest({ runId: "same" }));
    await expect(runPipeline(world, startRequest({ runId: "same", destPrefix: "other/" }))).rejects.toThrow(/already used by a different request/);
  });
});

describe("handlers and hostile messages", () => {
  it("the worker answers 2xx to malformed, oversized and unknown-version messages and records them", async () => {
    const world = memoryWorld();
    const bus = new InProcessBus();
    const deps = memoryDeps(world, bus);
    const worker = createWorkerHandler(() => deps);
    const cases = [
      "not json",
      JSON.stringify({ v: 2, type: "shard", runId: "r1", stateBucket: "dst", shardId: "s-000000" }),
      JSON.stringify({ v: 1, type: "shard", runId: "r1", stateBucket: "dst" }),
      JSON.stringify({ v: 1, type: "shard", runId: "r1", stateBucket: "dst", shardId: "s-000000", pad: "x".repeat(300_000) }),
      JSON.stringify({ v: 1, type: "shard", runId: "r1", stateBucket: "dst", shardId: "s-000000" }),
    ];
    for (const body of cases) {
      const res = await worker(queueEvent(body));
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(res.body!).rejected).toMatch(/JSON|version|shardId|limit|does not exist/);
    }
    const rejected = [];
    for await (const k of world.state("dst").list(".migrate-state/runs/r1/rejected/")) rejected.push(k);
    expect(rejected.length).toBe(4);
  });

  it("the coordinator refuses a bad start request over HTTP with 400 and writes nothing; from the queue, records it and answers 200", async () => {
    const world = memoryWorld();
    const bus = new InProcessBus();
    const deps = memoryDeps(world, bus);
    const coordinator = createCoordinatorHandler(() => deps);
    const body = JSON.stringify({ v: 1, type: "start", runId: "r", source: { container: "Bad_Name" }, destination: { bucket: "dst" } });
    const res = await coordinator({ ...queueEvent(body), headers: { "X-Auth-Token": "function-jwt" } });
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body!).error).toMatch(/container/);
    expect(world.stores.size).toBe(0);

    const queued = await coordinator(queueEvent(body));
    expect(queued.statusCode).toBe(200);
    expect(JSON.parse(queued.body!).rejected).toMatch(/container/);
    const rejected = [];
    for await (const k of world.state("dst").list(".migrate-state/runs/r/rejected/")) rejected.push(k);
    expect(rejected).toHaveLength(1);
  });

  it("a worker that fails unexpectedly answers 500 so the trigger retries", async () => {
    const world = memoryWorld();
    const bus = new InProcessBus();
    const deps = memoryDeps(world, bus);
    deps.state = () => {
      throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    };
    const worker = createWorkerHandler(() => deps);
    const res = await worker(queueEvent(JSON.stringify({ v: 1, type: "shard", runId: "r1", stateBucket: "dst", shardId: "s-000000" })));
    expect(res.statusCode).toBe(500);
  });
});

describe("start token", () => {
  it("refuses a start without the right X-Migrate-Token when START_TOKEN is set, and accepts the right one", async () => {
    const world = memoryWorld();
    world.source.putBlob("src", "k", Buffer.from("x"));
    const bus = new InProcessBus();
    const deps = { ...memoryDeps(world, bus), startToken: "s3cr3t-start-token" };
    const coordinator = createCoordinatorHandler(() => deps);
    const body = JSON.stringify({ v: 1, type: "start", runId: "tok", source: { container: "src" }, destination: { bucket: "dst" } });
    const none = await coordinator({ ...queueEvent(body), headers: { "X-Auth-Token": "function-jwt" } });
    const wrong = await coordinator({ ...queueEvent(body), headers: { "X-Migrate-Token": "s3cr3t-start-tokeX" } });
    expect([none.statusCode, wrong.statusCode]).toEqual([401, 401]);
    expect(world.stores.size).toBe(0);
    const right = await coordinator({ ...queueEvent(body), headers: { "X-Migrate-Token": "s3cr3t-start-token" } });
    expect(right.statusCode).toBe(202);
  });
});

describe("giant objects", () => {
  it("copies a giant object as parallel part ranges, completed once and verified, alongside small ones", async () => {
    const world = memoryWorld();
    const MiB = 1024 * 1024;
    const giant = randomBytes(23 * MiB + 5);
    world.source.putBlob("src", "giant.bin", giant, { withMd5: false, tags: { a: "1" } });
    for (let i = 0; i < 5; i++) world.source.putBlob("src", `small-${i}`, randomBytes(100 + i));
    const { report, ledger, bus } = await runPipeline(world, startRequest({ options: { shardMaxObjects: 3 } }), {
      tuning: { giantObjectThreshold: 20 * MiB, giantRangeBytes: 10 * MiB, partSize: 5 * MiB },
      deliveryFilter: (_t, bodies) => [...bodies, ...bodies],
    });
    expect(report.objects).toMatchObject({ planned: 6, copied: 6, failed: 0 });
    const rangeMessages = new Set(bus.sent.filter((m) => m.body.includes('"range"')).map((m) => m.body));
    expect(rangeMessages.size).toBe(3); // 5 parts of 5 MiB, 2 parts a range
    const got = world.sink.getObject("dst", "giant.bin")!;
    expect(md5(got.body)).toBe(md5(giant));
    expect(got.tags).toEqual({ a: "1" });
    expect(ledger.find((l: { key: string }) => l.key === "giant.bin")).toMatchObject({ outcome: "copied", verifiedBy: "part-md5+multipart-etag+size" });
    expect(world.sink.calls.completeMultipart).toBe(1);
    expect(world.sink.openUploads()).toBe(0);
  });

  it("a re-run skips a giant object by its copy proof, without a HEAD; without the proof by a HEAD, which writes it again; overwritten, it is copied again", async () => {
    // Prepare: a giant object copied once
    const world = memoryWorld();
    const MiB = 1024 * 1024;
    const giant = randomBytes(23 * MiB + 5);
    world.source.putBlob("src", "giant.bin", giant, { withMd5: false });
    for (let i = 0; i < 5; i++) world.source.putBlob("src", `small-${i}`, randomBytes(100 + i));
    const options = { tuning: { giantObjectThreshold: 20 * MiB, giantRangeBytes: 10 * MiB, partSize: 5 * MiB } };
    const run = async (runId: string) => runPipeline(world, startRequest({ runId, options: { shardMaxObjects: 3 } }), options);
    expect((await run("first")).report.objects).toMatchObject({ copied: 6 });
    const state = world.state("dst");
    const proofs = () => [...state.objects.keys()].filter((k) => k.includes("/proofs/"));
    expect(proofs()).toEqual([expect.stringMatching(/\/proofs\/dst\/giant\.bin#[0-9a-f]{32}$/)]);
    const heads = () => world.sink.calls.head ?? 0;

    // Act / Assess: decided by the destination listing and the proof
    let before = heads();
    let again = await run("second");
    expect(again.report.objects).toMatchObject({ planned: 6, copied: 0, skipped: 6 });
    expect(again.ledger.find((l: { key: string }) => l.key === "giant.bin")).toMatchObject({ outcome: "skipped", reason: "unchanged: same size and source ETag (copy proof)" });
    expect(heads()).toBe(before);

    // Without proofs: one HEAD, still skipped, and the proof is back
    for (const k of proofs()) await state.delete(k);
    before = heads();
    again = await run("third");
    expect(again.report.objects).toMatchObject({ copied: 0, skipped: 6 });
    expect(heads()).toBe(before + 1);
    expect(proofs()).toHaveLength(1);

    // Overwritten at the destination (another ETag): the proof no longer matches, the object is copied again
    const other = randomBytes(giant.length);
    await world.sink.put("dst", "giant.bin", other, createHash("md5").update(other).digest("base64"), { metadata: {} });
    again = await run("fourth");
    expect(again.report.objects).toMatchObject({ copied: 1, skipped: 5 });
    expect(md5(world.sink.getObject("dst", "giant.bin")!.body)).toBe(md5(giant));
  });

  it("a part corrupted on its way fails the giant object with the same code as any multipart copy, upload aborted", async () => {
    // Prepare: the corruption keeps a matching Content-MD5 (as a broken proxy would): only the ETag check can see it.
    const world = memoryWorld();
    const MiB = 1024 * 1024;
    world.source.putBlob("src", "giant.bin", randomBytes(23 * MiB), { withMd5: false });
    const sink = new InstrumentedSink(world.sink, {
      tamperPart: (call, body) => {
        if (call.partNumber !== 3) return undefined;
        const bad = Buffer.from(body);
        bad[7] = bad[7]! ^ 0xff;
        return { body: bad, md5Base64: createHash("md5").update(bad).digest("base64") };
      },
    });
    // Act
    const { report, ledger } = await runPipeline(world, startRequest(), {
      tuning: { giantObjectThreshold: 20 * MiB, giantRangeBytes: 10 * MiB, partSize: 5 * MiB },
      sink,
    });
    // Assess
    expect(report.objects).toMatchObject({ planned: 1, copied: 0, failed: 1 });
    expect(ledger.find((l: { key: string }) => l.key === "giant.bin")).toMatchObject({ outcome: "failed", code: "part-corrupted" });
    expect(world.sink.getObject("dst", "giant.bin")).toBeUndefined();
    expect(world.sink.openUploads()).toBe(0);
  });
});

describe("worker deadlines", () => {
  it("a shard that needs several invocations under a short deadline completes byte-exact, large objects resumed part by part", async () => {
    const { InstrumentedSink } = await import("../fakes/instrumented.ts");
    const world = memoryWorld();
    const MiB = 1024 * 1024;
    const bodies = new Map<string, Buffer>();
    for (let i = 0; i < 8; i++) bodies.set(`small-${i}`, randomBytes(1000 + i));
    bodies.set("large", randomBytes(26 * MiB + 1));
    for (const [k, b] of bodies) world.source.putBlob("src", k, b, { withMd5: k !== "large" });
    // Every write to the destination takes 25 ms; an invocation has 80 ms.
    const slow = new InstrumentedSink(world.sink, { before: (c) => (c.op === "put" || c.op === "uploadPart" ? new Promise((r) => setTimeout(r, 25)) : undefined) });
    const { report, bus } = await runPipeline(world, startRequest({ options: { concurrency: 1 } }), {
      sink: slow,
      workerTimeoutMs: 80,
      tuning: { partConcurrency: 1 },
    });
    const continuations = bus.sent.filter((m) => /"type":"shard"/.test(m.body) && !/"continuation":0/.test(m.body)).length;
    expect(continuations).toBeGreaterThanOrEqual(3);
    expect(report.objects).toMatchObject({ planned: 9, copied: 9, failed: 0 });
    for (const [k, b] of bodies) expect(md5(world.sink.getObject("dst", k)!.body), k).toBe(md5(b));
    // 6 parts of 5 MiB: each uploaded once although the copy spanned invocations.
    expect(slow.calls.uploadPart).toBe(6);
    expect(slow.calls.createMultipart).toBe(1);
    expect(world.sink.openUploads()).toBe(0);
  });

  it("logs a clear line for a message that can never succeed", async () => {
    const world = memoryWorld();
    const lines: Array<{ event: string; reason?: string }> = [];
    const deps = { ...memoryDeps(world, new InProcessBus()), log: { info() {}, error() {}, warn: (event: string, f?: Record<string, unknown>) => lines.push({ event, ...(f as object) }) } };
    const res = await createWorkerHandler(() => deps)(queueEvent('{"v":7,"type":"shard"}'));
    expect(res.statusCode).toBe(200);
    expect(lines).toEqual([expect.objectContaining({ event: "message-rejected", reason: "unknown message version 7 (this build speaks 1)" })]);
  });
});
