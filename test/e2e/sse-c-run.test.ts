/**
 * SSE-C end to end on Ceph RGW through the CLI: every data object written and
 * read under S3_SSE_C_KEY (small, multipart, resumed after a kill), readable
 * only with the key, skipped on a re-run, verified by `migrate verify` and by
 * --verify-readback; a wrong key fails clearly; a key change is refused (exit 2)
 * before anything is written, unless --force; the key appears nowhere.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { inject } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListPartsCommand } from "@aws-sdk/client-s3";
import type { ContainerClient } from "@azure/storage-blob";
import { clients, newBucket, newContainer, serverEnv } from "../support/env.ts";
import { runCli } from "../support/cli.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { getText, listKeys, openUploads, upload } from "../reliability/support.ts";
import type { RunReport } from "../../shared/state/layout.ts";

const MiB = 1024 * 1024;
const md5 = (b: Buffer | Uint8Array) => createHash("md5").update(b).digest("hex");
const TUNING = { MULTIPART_THRESHOLD_MB: "5", PART_SIZE_MB: "5" };
const KEY = randomBytes(32);
const KEY_B64 = KEY.toString("base64");
const KEY_MD5 = createHash("md5").update(KEY).digest("base64");
const OTHER_B64 = randomBytes(32).toString("base64");
const sse = (b64: string) => ({ SSECustomerAlgorithm: "AES256", SSECustomerKey: b64 });

async function getWith(bucket: string, key: string, b64?: string): Promise<Buffer> {
  const r = await clients.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(b64 ? sse(b64) : {}) }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

const statusOf = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

describe("SSE-C on Ceph RGW", () => {
  let container: ContainerClient;
  let bodies: Map<string, Buffer>;
  let dir: string;

  beforeAll(async () => {
    container = await newContainer("ssec");
    bodies = new Map([
      ["small/a.txt", randomBytes(1500)],
      ["small/b.txt", randomBytes(64 * 1024)],
      ["small/empty", Buffer.alloc(0)],
      ["big/twelve.bin", randomBytes(12 * MiB + 5)],
    ]);
    for (const [name, body] of bodies) await upload(container, name, body, { metadata: { owner: "ops" }, tags: { team: "data" } });
    dir = mkdtempSync(join(tmpdir(), "ssec-"));
  });

  const env = (key: string | undefined, extra: Record<string, string> = {}) => ({ ...serverEnv(), ...TUNING, ...(key ? { S3_SSE_C_KEY: key } : {}), ...extra });
  const run = (bucket: string, args: string[], key: string | undefined, extra: Record<string, string> = {}, onSpawn?: (pid: number) => void) =>
    runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}/d`, "--json", ...args], env(key, extra), { timeoutMs: 120_000, onSpawn });

  it("writes every object under the key (small and multipart), verified and read back; readable only with the key; skipped on a re-run", { timeout: 120_000 }, async () => {
    const bucket = await newBucket("ssec");
    // Act: first run, with read back
    const first = await run(bucket, ["--run-id", "enc-1", "--verify-readback"], KEY_B64);
    // Assess
    expect(first.code, first.stderr.slice(-800)).toBe(0);
    const report = JSON.parse(first.stdout) as RunReport;
    expect(report.objects).toMatchObject({ planned: 4, copied: 4, failed: 0 });
    const ledger = (await getText(clients.s3(), bucket, ".migrate-state/runs/enc-1/ledger.jsonl")).split("\n").filter(Boolean).map((l) => JSON.parse(l));
    for (const e of ledger) expect(e.verifiedBy, e.key).toMatch(/sse-c-head-size\+markers.*\+readback-md5$/);
    const s3 = clients.s3();
    for (const [name, body] of bodies) {
      const key = `d/${name}`;
      expect(md5(await getWith(bucket, key, KEY_B64)), name).toBe(md5(body));
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...sse(KEY_B64) }));
      expect(head.SSECustomerAlgorithm, name).toBe("AES256");
      expect(head.Metadata?.owner, name).toBe("ops");
      // Without the key, or with another one, the object can not be read.
      await expect(getWith(bucket, key)).rejects.toSatisfy((e) => statusOf(e) === 400);
      await expect(getWith(bucket, key, OTHER_B64)).rejects.toSatisfy((e) => statusOf(e) === 400);
    }
    // State objects are not encrypted (readable without the key), and hold the key's digest only.
    const record = await getText(s3, bucket, ".migrate-state/runs/enc-1/run.json");
    expect(JSON.parse(record).sseCustomerKeyMd5).toBe(KEY_MD5);
    const state = await Promise.all((await listKeys(s3, bucket, ".migrate-state/")).map((k) => getText(s3, bucket, k)));
    for (const body of state) expect(body).not.toContain(KEY_B64);
    expect(first.stdout + first.stderr).not.toContain(KEY_B64);

    // Act: a second run skips everything (the skip HEADs carry the key).
    const second = await run(bucket, ["--run-id", "enc-2"], KEY_B64);
    expect(second.code, second.stderr.slice(-800)).toBe(0);
    expect((JSON.parse(second.stdout) as RunReport).objects).toMatchObject({ planned: 4, copied: 0, skipped: 4 });

    // migrate verify: in full with the key; size and tags only without it (--no-content); refused bytes without it.
    const verifyArgs = ["verify", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}/d`];
    const withKey = await runCli(verifyArgs, env(KEY_B64));
    expect(withKey.code, withKey.stdout + withKey.stderr).toBe(0);
    expect(withKey.stdout).toMatch(/4 checked, 4 matched/);
    const noKeyNoContent = await runCli([...verifyArgs, "--no-content"], env(undefined));
    expect(noKeyNoContent.code, noKeyNoContent.stdout + noKeyNoContent.stderr).toBe(0);
    expect(noKeyNoContent.stdout).toMatch(/4 SSE-C objects checked by size and tags only/);
    const noKey = await runCli(verifyArgs, env(undefined));
    expect(noKey.code).toBe(1);
    expect(noKey.stdout).toMatch(/encrypted with SSE-C: set S3_SSE_C_KEY/);
    const wrongKey = await runCli(verifyArgs, env(OTHER_B64));
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stdout).toMatch(/encrypted with another SSE-C key/);
    expect(wrongKey.stdout + wrongKey.stderr).not.toContain(OTHER_B64);

    // Act: another key on the same destination is refused before anything is written.
    const changed = await run(bucket, ["--run-id", "enc-3"], OTHER_B64);
    expect(changed.code).toBe(2);
    expect(changed.stderr).toMatch(/was written under the SSE-C key with MD5 .*this run has the SSE-C key with MD5 .*--force/);
    expect(changed.stderr).not.toContain(OTHER_B64);
    expect(await listKeys(s3, bucket, ".migrate-state/runs/enc-3/")).toEqual([]);
    // So is a run without a key.
    const none = await run(bucket, ["--run-id", "enc-4"], undefined);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/this run has no SSE-C key/);

    // Act: --force copies every object again under the new key.
    const forced = await run(bucket, ["--run-id", "enc-5", "--force"], OTHER_B64);
    expect(forced.code, forced.stderr.slice(-800)).toBe(0);
    expect((JSON.parse(forced.stdout) as RunReport).objects).toMatchObject({ copied: 4 });
    for (const [name, body] of bodies) expect(md5(await getWith(bucket, `d/${name}`, OTHER_B64)), name).toBe(md5(body));
    await expect(getWith(bucket, "d/small/a.txt", KEY_B64)).rejects.toSatisfy((e) => statusOf(e) === 400);
    // And the new key is now the one recorded: the old key is refused.
    const back = await run(bucket, ["--run-id", "enc-6"], KEY_B64);
    expect(back.code).toBe(2);
  });

  it("a re-run decides every object unchanged from the destination listing and the copy proofs: no HEAD, no source read", { timeout: 120_000 }, async () => {
    // Prepare: enough blobs for the shard to list its range (small and multipart), copied once under the key
    const many = await newContainer("ssecls");
    for (let i = 0; i < 10; i++) await upload(many, `k/${i}.bin`, randomBytes(i === 0 ? 6 * MiB + 1 : 1000 + i));
    const bucket = await newBucket("ssecls");
    const args = (b: string) => ["run", "--from", `azure://${many.containerName}`, "--to", `s3://${b}/d`, "--json"];
    const first = await runCli(args(bucket), env(KEY_B64), { timeoutMs: 120_000 });
    expect(first.code, first.stderr.slice(-800)).toBe(0);
    // Every object has a proof (under SSE-C no ETag is an MD5), named by a digest, not the key
    const proofs = await listKeys(clients.s3(), bucket, `.migrate-state/proofs/${bucket}/`);
    expect(proofs).toHaveLength(10);
    for (const k of proofs) expect(k).toMatch(/#[0-9a-f]{32}$/);
    const seen: Array<{ side: string; method: string; path: string }> = [];
    const azurite = inject("azurite").connectionString;
    const origin = new URL(/BlobEndpoint=([^;]+)/.exec(azurite)![1]!).origin;
    const azureProxy = await startFaultProxy({ target: origin, onRequest: (method, path) => seen.push({ side: "azure", method, path }) });
    const s3Proxy = await startFaultProxy({ target: inject("rgw").endpoint, onRequest: (method, path) => seen.push({ side: "s3", method, path }) });
    try {
      // Act
      const again = await runCli(args(bucket), env(KEY_B64, { S3_ENDPOINT: s3Proxy.endpoint, AZURE_STORAGE_CONNECTION_STRING: azurite.replace(origin, azureProxy.endpoint) }), { timeoutMs: 120_000 });
      // Assess
      expect(again.code, again.stderr.slice(-800)).toBe(0);
      const report = JSON.parse(again.stdout) as RunReport;
      expect(report.objects).toMatchObject({ planned: 10, copied: 0, skipped: 10, failed: 0 });
      expect(seen.filter((r) => r.side === "s3" && r.path.startsWith(`/${bucket}/d/`))).toEqual([]);
      expect(seen.filter((r) => r.side === "azure" && r.method === "GET" && !r.path.includes("comp=list"))).toEqual([]);
    } finally {
      await azureProxy.stop();
      await s3Proxy.stop();
    }
  });

  it("fails an object under another key clearly when the destination record is gone (new STATE_BUCKET)", { timeout: 90_000 }, async () => {
    const bucket = await newBucket("ssec");
    const first = await run(bucket, ["--run-id", "w-1"], KEY_B64);
    expect(first.code, first.stderr.slice(-800)).toBe(0);
    const otherState = await newBucket("ssecstate");
    // Act: another key, state elsewhere: no record; the probe HEAD of one of our objects tells.
    const res = await run(bucket, ["--run-id", "w-2"], OTHER_B64, { STATE_BUCKET: otherState });
    // Assess
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/can not be read with S3_SSE_C_KEY: it is encrypted with another SSE-C key/);
    expect(await listKeys(clients.s3(), otherState, ".migrate-state/runs/")).toEqual([]);
  });

  it("--encrypt-state encrypts the run state too: unreadable without the key, read by migrate report with it", { timeout: 90_000 }, async () => {
    const bucket = await newBucket("ssec");
    const res = await run(bucket, ["--run-id", "es-1", "--encrypt-state"], KEY_B64);
    expect(res.code, res.stderr.slice(-800)).toBe(0);
    const s3 = clients.s3();
    const stateKeys = await listKeys(s3, bucket, ".migrate-state/");
    expect(stateKeys).toContain(".migrate-state/runs/es-1/report.json");
    for (const key of stateKeys) await expect(getWith(bucket, key), key).rejects.toSatisfy((e) => statusOf(e) === 400);
    expect(JSON.parse((await getWith(bucket, ".migrate-state/runs/es-1/report.json", KEY_B64)).toString()).status).toBe("succeeded");
    const report = await runCli(["report", "es-1", "--state-bucket", bucket, "--json"], env(KEY_B64, { S3_SSE_C_ENCRYPT_STATE: "true" }));
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toContain('"runId": "es-1"');
    const noKey = await run(bucket, ["--run-id", "es-2", "--encrypt-state"], undefined);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/--encrypt-state needs an SSE-C key/);
  });

  it("refuses a malformed key with a message naming the variable, not the value", async () => {
    const bad = randomBytes(16).toString("base64");
    const res = await run("any-bucket", [], bad);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/S3_SSE_C_KEY must be the base64 of a 32-byte key/);
    expect(res.stderr).not.toContain(bad);
    const file = join(dir, "key");
    writeFileSync(file, KEY_B64 + "\n");
    const both = await runCli(["run", "--from", "azure://somecontainer", "--to", "s3://somebucket"], { ...serverEnv(), S3_SSE_C_KEY: KEY_B64, S3_SSE_C_KEY_FILE: file });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/both set/);
    expect(readFileSync(file, "utf8")).toContain(KEY_B64);
  });

  describe("resumed after a kill", () => {
    let proxy: FaultProxy;
    beforeAll(async () => {
      // Part 2 of the upload waits, so the run can be killed with part 1 stored.
      proxy = await startFaultProxy({ target: inject("rgw").endpoint, seed: 3, rules: [{ fault: { kind: "delay", ms: 4000 }, methods: ["PUT"], path: /partNumber=2(&|$)/ }] });
    });
    afterAll(async () => {
      await proxy?.stop();
    });

    it("resumes the open encrypted upload with the key and ends byte-exact", { timeout: 120_000 }, async () => {
      const bucket = await newBucket("ssec");
      const args = ["--run-id", "kill-1", "--concurrency", "1"];
      let pid = 0;
      let done = false;
      const killed = run(bucket, args, KEY_B64, { S3_ENDPOINT: proxy.endpoint, PART_CONCURRENCY: "1" }, (p) => (pid = p));
      void killed.finally(() => (done = true));
      const s3 = clients.s3();
      let reached = false;
      while (!done && !reached) {
        const open = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket })).catch(() => undefined);
        for (const u of open?.Uploads ?? []) {
          const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId!, ...sse(KEY_B64) })).catch(() => undefined);
          if ((parts?.Parts ?? []).length > 0) reached = true;
        }
        if (!reached) await new Promise((r) => setTimeout(r, 50));
      }
      expect(reached, "the run ended before a part was stored").toBe(true);
      process.kill(pid, "SIGKILL");
      expect((await killed).signal).toBe("SIGKILL");

      const resumed = await run(bucket, args, KEY_B64);
      expect(resumed.code, resumed.stderr.slice(-800)).toBe(0);
      expect((JSON.parse(resumed.stdout) as RunReport).status).toBe("succeeded");
      for (const [name, body] of bodies) expect(md5(await getWith(bucket, `d/${name}`, KEY_B64)), name).toBe(md5(body));
      expect(await openUploads(bucket)).toEqual([]);
    });
  });
});
