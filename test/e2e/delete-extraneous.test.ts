/**
 * Cutover pass on Ceph RGW through the CLI: `--delete-extraneous` deletes
 * exactly the destination keys under the prefix that carry the tool's markers
 * and have no source blob; nothing after a failed object; nothing over
 * --max-delete (exit 1); a dry run lists and deletes nothing; unmanaged keys
 * only with --delete-unmanaged; every deletion in the ledger.
 */
import { describe, it, expect, beforeAll, inject } from "vitest";
import { randomBytes } from "node:crypto";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import type { ContainerClient } from "@azure/storage-blob";
import { clients, newBucket, newContainer, serverEnv } from "../support/env.ts";
import { runCli } from "../support/cli.ts";
import { startFaultProxy } from "../support/fault-proxy.ts";
import { getText, listKeys, upload } from "../reliability/support.ts";
import type { RunReport } from "../../shared/state/layout.ts";

async function dataKeysOf(bucket: string): Promise<string[]> {
  return (await listKeys(clients.s3(), bucket)).filter((k) => !k.startsWith(".migrate-state/")).sort();
}

describe("migrate run --delete-extraneous on Ceph RGW", () => {
  let container: ContainerClient;
  let bucket: string;
  let n = 0;

  beforeAll(async () => {
    container = await newContainer("cut");
    for (const name of ["a.txt", "b.txt", "c.txt", "sub/d.txt"]) await upload(container, name, randomBytes(300 + name.length));
    bucket = await newBucket("cut");
  });

  const run = async (...args: string[]) => {
    const runId = `cut-${++n}`;
    const res = await runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}/d`, "--run-id", runId, ...args], serverEnv(), { timeoutMs: 90_000 });
    const report = res.stdout.trim().startsWith("{") ? (JSON.parse(res.stdout) as RunReport) : undefined;
    return { ...res, runId, report };
  };
  const dataKeys = async () => (await listKeys(clients.s3(), bucket)).filter((k) => !k.startsWith(".migrate-state/")).sort();

  it("deletes exactly the extraneous managed keys, after a fully successful copy only, within --max-delete", { timeout: 170_000 }, async () => {
    // Prepare: a full copy, then the source loses two blobs; the bucket also holds an object the tool
    // did not write (no markers) and a marked object outside the destination prefix.
    const first = await run("--json");
    expect(first.code, first.stderr.slice(-600)).toBe(0);
    await container.getBlobClient("c.txt").delete();
    await container.getBlobClient("sub/d.txt").delete();
    const s3 = clients.s3();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "d/unmanaged.txt", Body: "not ours" }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "other/x.txt", Body: "outside", Metadata: { "azure-etag": "0x1" } }));
    const all = ["d/a.txt", "d/b.txt", "d/c.txt", "d/sub/d.txt", "d/unmanaged.txt", "other/x.txt"];
    expect(await dataKeys()).toEqual(all);

    // Act + Assess: a dry run lists what would go and deletes nothing.
    const dry = await run("--dry-run", "--delete-extraneous");
    expect(dry.code, dry.stderr.slice(-600)).toBe(0);
    expect(dry.stdout).toMatch(/2 would be deleted, 1 without markers kept/);
    expect(dry.stdout).toContain('would delete "d/c.txt"');
    expect(dry.stdout).toContain('would delete "d/sub/d.txt"');
    expect(dry.stdout).not.toContain('would delete "d/unmanaged.txt"');
    expect(await dataKeys()).toEqual(all);

    // Over --max-delete: stop, delete nothing, exit 1.
    const capped = await run("--json", "--delete-extraneous", "--max-delete", "1");
    expect(capped.code).toBe(1);
    expect(capped.report!.status).toBe("failed");
    expect(capped.report!.failures.map((f) => f.reason).join("\n")).toMatch(/more than 1 destination keys have no source blob: nothing deleted/);
    expect(await dataKeys()).toEqual(all);

    // A failed object (key over S3's 1024 bytes once mapped under d/): nothing deleted, exit 1.
    const longName = "L".repeat(1023);
    await upload(container, longName, "x");
    const failed = await run("--json", "--delete-extraneous");
    expect(failed.code).toBe(1);
    expect(failed.report!.objects.failed).toBe(1);
    expect(failed.report!.deletions).toMatchObject({ deleted: 0, skipped: "nothing deleted: 1 object(s) failed" });
    expect(await dataKeys()).toEqual(all);
    await container.getBlobClient(longName).delete();

    // The real pass: exactly the two marked extraneous keys go, each in the ledger.
    const cut = await run("--json", "--delete-extraneous");
    expect(cut.code, cut.stderr.slice(-600)).toBe(0);
    expect(cut.report!.deletions).toMatchObject({ deleted: 2, failed: 0, unmanagedKept: 1 });
    expect(await dataKeys()).toEqual(["d/a.txt", "d/b.txt", "d/unmanaged.txt", "other/x.txt"]);
    const ledger = (await getText(s3, bucket, `.migrate-state/runs/${cut.runId}/ledger.jsonl`)).split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const deleted = ledger.filter((e) => e.outcome === "deleted");
    expect(deleted.map((e) => e.key).sort()).toEqual(["d/c.txt", "d/sub/d.txt"]);
    for (const e of deleted) {
      expect(e.size).toBeGreaterThan(0);
      expect(e.etag).toMatch(/^[0-9a-f]{32}$/);
      expect(Number.isNaN(Date.parse(e.at))).toBe(false);
    }
    const csv = await runCli(["report", cut.runId, "--state-bucket", bucket, "--csv"], serverEnv());
    expect(csv.code, csv.stderr).toBe(0);
    const rows = csv.stdout.trim().split("\n");
    expect(rows[0]).toBe("key,source,size,outcome,code,reason,md5,etag,at");
    expect(rows.filter((r) => /^d\/(c\.txt|sub\/d\.txt),,\d+,deleted,,,,[0-9a-f]{32},\d{4}-/.test(r))).toHaveLength(2);

    // Unmanaged keys go only when asked; a pass with nothing extraneous deletes nothing.
    const unmanaged = await run("--json", "--delete-extraneous", "--delete-unmanaged");
    expect(unmanaged.code, unmanaged.stderr.slice(-600)).toBe(0);
    expect(unmanaged.report!.deletions).toMatchObject({ deleted: 1 });
    expect(await dataKeys()).toEqual(["d/a.txt", "d/b.txt", "other/x.txt"]);
    const again = await run("--json", "--delete-extraneous");
    expect(again.code).toBe(0);
    expect(again.report!.deletions).toMatchObject({ deleted: 0, failed: 0 });
  });

  it("a run killed after planning its deletions carries out the same plan when resumed, each deletion once in the ledger", { timeout: 120_000 }, async () => {
    // Prepare: a copied destination, then two source blobs removed.
    const src = await newContainer("cutcrash");
    for (const name of ["keep.txt", "gone-1.txt", "gone-2.txt"]) await upload(src, name, randomBytes(400));
    const dst = await newBucket("cutcrash");
    const base = ["run", "--from", `azure://${src.containerName}`, "--to", `s3://${dst}`, "--json"];
    expect((await runCli([...base, "--run-id", "copy"], serverEnv(), { timeoutMs: 60_000 })).code).toBe(0);
    await src.getBlobClient("gone-1.txt").delete();
    await src.getBlobClient("gone-2.txt").delete();
    // DeleteObjects (POST ?delete) is held by the proxy: the run is killed with its plan written, before it deletes.
    const proxy = await startFaultProxy({ target: inject("rgw").endpoint, rules: [{ fault: { kind: "delay", ms: 20_000 }, methods: ["POST"], path: /[?&]delete(=|&|$)/ }] });
    try {
      const args = [...base, "--run-id", "cut", "--delete-extraneous"];
      let pid = 0;
      const killed = runCli(args, { ...serverEnv(), S3_ENDPOINT: proxy.endpoint }, { timeoutMs: 60_000, onSpawn: (p) => (pid = p) });
      let done = false;
      void killed.finally(() => (done = true));
      const s3 = clients.s3();
      while (!done && (await listKeys(s3, dst, ".migrate-state/runs/cut/deletions.json")).length === 0) await new Promise((r) => setTimeout(r, 50));
      expect(done, "the run ended before planning its deletions").toBe(false);
      process.kill(pid, "SIGKILL");
      expect((await killed).signal).toBe("SIGKILL");
      expect(await dataKeysOf(dst)).toEqual(["gone-1.txt", "gone-2.txt", "keep.txt"]);
      const plan = await getText(s3, dst, ".migrate-state/runs/cut/deletions.json");
      expect(JSON.parse(plan).keys.map((k: { key: string }) => k.key).sort()).toEqual(["gone-1.txt", "gone-2.txt"]);

      // Act: resume with the same run id.
      const resumed = await runCli(args, serverEnv(), { timeoutMs: 60_000 });
      // Assess
      expect(resumed.code, resumed.stderr.slice(-500)).toBe(0);
      expect((JSON.parse(resumed.stdout) as RunReport).deletions).toMatchObject({ deleted: 2, failed: 0 });
      expect(await dataKeysOf(dst)).toEqual(["keep.txt"]);
      expect(await getText(s3, dst, ".migrate-state/runs/cut/deletions.json")).toBe(plan);
      const ledger = (await getText(s3, dst, ".migrate-state/runs/cut/ledger.jsonl")).split("\n").filter(Boolean).map((l) => JSON.parse(l));
      expect(ledger.filter((e) => e.outcome === "deleted").map((e) => e.key).sort()).toEqual(["gone-1.txt", "gone-2.txt"]);
    } finally {
      await proxy.stop();
    }
  });

  it("refuses --max-delete and --delete-unmanaged without --delete-extraneous (exit 2)", async () => {
    const res = await runCli(["run", "--from", "azure://somecontainer", "--to", "s3://somebucket", "--max-delete", "5"], serverEnv());
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--max-delete needs --delete-extraneous/);
  });
});
