/**
 * A migration through fault-injecting proxies in front of both Azurite and
 * RGW (throttling, server errors, connections cut mid-body, slow answers)
 * completes, every object byte-exact, and the report counts the retries.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { inject } from "vitest";
import type { ContainerClient } from "@azure/storage-blob";
import { startFaultProxy, type FaultProxy, type FaultRule } from "../support/fault-proxy.ts";
import { runCli } from "../support/cli.ts";
import { newBucket, newContainer, serverEnv } from "../support/env.ts";
import { azureThrough, destinationDigests, duplicates, ledgerOf, md5, openUploads, SMALL_PARTS, seedCorpus } from "./support.ts";
import type { RunReport } from "../../shared/state/layout.ts";

const AZURE_RULES: FaultRule[] = [
  { fault: { kind: "slow-down" }, rate: 0.05 },
  { fault: { kind: "internal-error" }, rate: 0.03 },
  // Ranged reads cut in the middle of their body.
  { fault: { kind: "reset-response" }, methods: ["GET"], path: /\/c\//, rate: 0.06 },
  { fault: { kind: "delay", ms: 300 }, rate: 0.05 },
];

const S3_RULES: FaultRule[] = [
  { fault: { kind: "slow-down" }, rate: 0.04 },
  { fault: { kind: "too-many-requests" }, rate: 0.03 },
  { fault: { kind: "internal-error" }, rate: 0.03 },
  // Uploads cut half-way through their body, answers cut half-way through theirs.
  { fault: { kind: "reset-request" }, methods: ["PUT"], rate: 0.03 },
  { fault: { kind: "reset-response" }, methods: ["GET", "HEAD"], rate: 0.02 },
  // Applied by the server, answer lost: the retry meets its own write (conditional state writes included).
  { fault: { kind: "reset-response" }, methods: ["PUT", "POST"], rate: 0.03 },
  { fault: { kind: "delay", ms: 300 }, rate: 0.04 },
];

describe("migration through faulty networks and throttling servers", () => {
  let azureProxy: FaultProxy;
  let s3Proxy: FaultProxy;
  let container: ContainerClient;
  let bodies: Map<string, Buffer>;

  beforeAll(async () => {
    container = await newContainer("faults");
    bodies = await seedCorpus(container, 120, 3);
    azureProxy = await startFaultProxy({ target: new URL(inject("azurite").endpoint).origin, rules: AZURE_RULES, seed: 11, flavour: "azure" });
    s3Proxy = await startFaultProxy({ target: inject("rgw").endpoint, rules: S3_RULES, seed: 23, flavour: "s3" });
  });
  afterAll(async () => {
    await azureProxy?.stop();
    await s3Proxy?.stop();
  });

  it("completes with exit 0, every object byte-exact, retries counted", { timeout: 180_000 }, async () => {
    const bucket = await newBucket("faults");
    const direct = serverEnv();
    const viaProxies = {
      ...azureThrough(direct, azureProxy.endpoint),
      S3_ENDPOINT: s3Proxy.endpoint,
      ...SMALL_PARTS,
      MAX_ATTEMPTS: "8",
    };
    expect((viaProxies as Record<string, string>).AZURE_STORAGE_CONNECTION_STRING).toContain(azureProxy.endpoint);

    const res = await runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}`, "--json", "--run-id", "faults", "--shard-objects", "25"], viaProxies, { timeoutMs: 170_000 });
    const report = JSON.parse(res.stdout || "{}") as RunReport;
    expect(report.failures, res.stderr.slice(-800)).toEqual([]);
    expect(res.code).toBe(0);
    expect(report.objects).toMatchObject({ planned: bodies.size, copied: bodies.size, failed: 0 });
    expect(report.retries).toBeGreaterThan(0);

    // Every kind of fault was really injected, on both sides.
    for (const kind of ["slow-down", "internal-error", "reset-response", "delay"] as const) expect(azureProxy.stats.faults[kind], `azure ${kind}`).toBeGreaterThan(0);
    for (const kind of ["slow-down", "too-many-requests", "internal-error", "reset-request", "delay"] as const) expect(s3Proxy.stats.faults[kind], `s3 ${kind}`).toBeGreaterThan(0);

    // Checked without the proxies: the bytes, then the independent verifier.
    const digests = await destinationDigests(bucket);
    expect(digests.size).toBe(bodies.size);
    for (const [name, body] of bodies) expect(digests.get(name), name).toBe(md5(body));
    const verify = await runCli(["verify", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}`], direct);
    expect(verify.code, verify.stdout.slice(-800)).toBe(0);
    const ledger = await ledgerOf(bucket, "faults");
    expect(ledger).toHaveLength(bodies.size);
    expect(duplicates(ledger.map((e) => e.key))).toEqual([]);
    expect(await openUploads(bucket)).toEqual([]);
  });
});
