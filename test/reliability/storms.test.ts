/**
 * A throttling storm from the very first request: 30% 503 (SlowDown /
 * ServerBusy) and 5% cut connections on both sides, with fixed seeds. The run
 * rides through it: exit 0, byte- and metadata-exact, no open upload left.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { inject } from "vitest";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import type { ContainerClient } from "@azure/storage-blob";
import { startFaultProxy, type FaultProxy, type FaultRule } from "../support/fault-proxy.ts";
import { runCli } from "../support/cli.ts";
import { clients, newBucket, newContainer, serverEnv } from "../support/env.ts";
import { azureThrough, destinationDigests, duplicates, ledgerOf, md5, openUploads, SMALL_PARTS, seedCorpus } from "./support.ts";
import type { RunReport } from "../../shared/state/layout.ts";

const STORM: FaultRule[] = [
  { fault: { kind: "slow-down" }, rate: 0.3 },
  // Cut connections: half of them before the server saw the whole request, half after it answered.
  { fault: { kind: "reset-request" }, rate: 0.025 },
  { fault: { kind: "reset-response" }, rate: 0.025 },
];

describe("a throttling storm on both sides from the first request", () => {
  let azureProxy: FaultProxy;
  let s3Proxy: FaultProxy;
  let container: ContainerClient;
  let bodies: Map<string, Buffer>;

  beforeAll(async () => {
    container = await newContainer("storm");
    bodies = await seedCorpus(container, 100, 3);
    azureProxy = await startFaultProxy({ target: new URL(inject("azurite").endpoint).origin, rules: STORM, seed: 41, flavour: "azure" });
    s3Proxy = await startFaultProxy({ target: inject("rgw").endpoint, rules: STORM, seed: 2909, flavour: "s3" });
  });
  afterAll(async () => {
    await azureProxy?.stop();
    await s3Proxy?.stop();
  });

  it("exit 0, byte- and metadata-exact, no open upload", { timeout: 240_000 }, async () => {
    const bucket = await newBucket("storm");
    const direct = serverEnv();
    const viaProxies = {
      ...azureThrough(direct, azureProxy.endpoint),
      S3_ENDPOINT: s3Proxy.endpoint,
      ...SMALL_PARTS,
    };
    // The storm starts before the first request: the pre-flight checks meet it too.
    expect(s3Proxy.stats.requests).toBe(0);

    const res = await runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}`, "--json", "--run-id", "storm", "--shard-objects", "20"], viaProxies, { timeoutMs: 230_000 });
    const report = JSON.parse(res.stdout || "{}") as RunReport;
    expect(report.failures, res.stderr.slice(-800)).toEqual([]);
    expect(res.code, res.stderr.slice(-800)).toBe(0);
    expect(report.objects).toMatchObject({ planned: bodies.size, copied: bodies.size, failed: 0 });
    for (const p of [azureProxy, s3Proxy]) {
      expect(p.stats.faults["slow-down"]).toBeGreaterThan(0.2 * p.stats.requests);
      expect(p.stats.faults["reset-request"] + p.stats.faults["reset-response"]).toBeGreaterThan(0);
    }

    const digests = await destinationDigests(bucket);
    expect(digests.size).toBe(bodies.size);
    for (const [name, body] of bodies) expect(digests.get(name), name).toBe(md5(body));
    for (const name of [...bodies.keys()].slice(0, 10)) {
      const head = await clients.s3().send(new HeadObjectCommand({ Bucket: bucket, Key: name }));
      expect(head.Metadata?.origin, name).toBe("seed");
    }
    const ledger = await ledgerOf(bucket, "storm");
    expect(ledger).toHaveLength(bodies.size);
    expect(duplicates(ledger.map((e) => e.key))).toEqual([]);
    expect(await openUploads(bucket)).toEqual([]);
  });
});
