/**
 * A run that ended with failures (the destination kept refusing one object past
 * the retry budget) is retried under its own id: only the failed object is
 * copied again, the earlier attempt is kept, and a new report says succeeded.
 */
import { describe, it, expect, afterAll } from "vitest";
import { inject } from "vitest";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { runCli } from "../support/cli.ts";
import { clients, newBucket, newContainer, serverEnv } from "../support/env.ts";
import { destinationDigests, getText, ledgerOf, md5, openUploads, SMALL_PARTS, seedCorpus } from "./support.ts";
import type { RunReport } from "../../shared/state/layout.ts";

describe("retrying a failed run under its id", () => {
  const proxies: FaultProxy[] = [];
  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
  });

  it("copies only what failed, keeps the earlier attempt, writes a new report", { timeout: 180_000 }, async () => {
    const container = await newContainer("rerun");
    const bodies = await seedCorpus(container, 20, 2);
    const names = [...bodies.keys()];
    // The first blob is multipart (6 MiB+): its parts are refused for the whole first attempt.
    const victim = names[0]!;
    const bucket = await newBucket("rerun");
    const refusing = await startFaultProxy({
      target: inject("rgw").endpoint,
      rules: [{ fault: { kind: "slow-down" }, methods: ["PUT"], path: new RegExp(`/${victim.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\?.*partNumber=`) }],
      seed: 5,
      flavour: "s3",
    });
    proxies.push(refusing);
    const env = { ...serverEnv(), ...SMALL_PARTS };
    const args = ["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}`, "--json", "--run-id", "again"];

    const first = await runCli(args, { ...env, S3_ENDPOINT: refusing.endpoint, RETRY_BUDGET_SECONDS: "2", MAX_ATTEMPTS: "2" });
    const failedReport = JSON.parse(first.stdout || "{}") as RunReport;
    expect(first.code, first.stderr.slice(-600)).toBe(1);
    expect(failedReport.objects).toMatchObject({ planned: 20, copied: 19, failed: 1 });
    expect(failedReport.failures.map((f) => f.key)).toEqual([victim]);
    expect(failedReport.attempt).toBe(1);
    expect(refusing.stats.faults["slow-down"]).toBeGreaterThan(0);
    expect(await openUploads(bucket)).toEqual([]);

    const second = await runCli(args, env);
    const report = JSON.parse(second.stdout || "{}") as RunReport;
    expect(second.code, second.stderr.slice(-600)).toBe(0);
    expect(report.status).toBe("succeeded");
    expect(report.objects).toMatchObject({ planned: 20, copied: 20, failed: 0 });
    expect(report.attempt).toBe(2);
    expect(report.previousAttempts).toHaveLength(1);

    // The retry copied the failed object only: every other ledger entry is the first attempt's, unchanged.
    const ledger = await ledgerOf(bucket, "again");
    expect(ledger).toHaveLength(20);
    const firstLedger = (await getText(clients.s3(), bucket, ".migrate-state/runs/again/attempts/1/ledger.jsonl")).split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(firstLedger.find((e) => e.key === victim)).toMatchObject({ outcome: "failed" });
    for (const e of ledger) {
      if (e.key === victim) expect(e.outcome).toBe("copied");
      else expect(e).toEqual(firstLedger.find((f) => f.key === e.key));
    }
    const digests = await destinationDigests(bucket);
    for (const [name, body] of bodies) expect(digests.get(name), name).toBe(md5(body));
    expect(await openUploads(bucket)).toEqual([]);

    // A run that succeeded is a no-op when started again.
    const third = await runCli(args, env);
    expect(third.code).toBe(0);
    expect(JSON.parse(third.stdout).finishedAt).toBe(report.finishedAt);
  });
});
