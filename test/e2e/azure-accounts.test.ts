/**
 * The source side as hardened tenants present it, on Azurite (and, where Azure
 * behaves differently from Azurite, through a proxy that answers as Azure does).
 */
import { describe, it, expect } from "vitest";
import { inject } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { GetObjectTaggingCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters, type ContainerClient } from "@azure/storage-blob";
import { clients, newBucket, newContainer, serverEnv } from "../support/env.ts";
import { runCli } from "../support/cli.ts";
import { startFaultProxy } from "../support/fault-proxy.ts";
import { getBytes, getText, listKeys, md5, upload } from "../reliability/support.ts";
import { createBlobServiceClient } from "../../shared/azure-sdk-client.ts";
import { AzureBlobSource } from "../../shared/azure/blob-source.ts";
import { TAGS_NOT_READ } from "../../shared/copy/source-notes.ts";
import type { LedgerEntry } from "../../shared/state/layout.ts";
import { withRetry } from "../../shared/retry.ts";

/** A container SAS with exactly `permissions` (no tag permission unless "t" is given). */
function containerSas(container: ContainerClient, permissions: string): string {
  const a = inject("azurite");
  return generateBlobSASQueryParameters(
    { containerName: container.containerName, permissions: ContainerSASPermissions.parse(permissions), expiresOn: new Date(Date.now() + 3600_000) },
    new StorageSharedKeyCredential(a.account, a.key),
  ).toString();
}

/** Environment for the CLI with the Azure side given as account + SAS at `endpoint` instead of the connection string. */
function sasEnv(endpoint: string, sas: string): Record<string, string> {
  const env: Record<string, string> = { ...serverEnv(), AZURE_STORAGE_ACCOUNT: inject("azurite").account, AZURE_STORAGE_SAS_TOKEN: sas, AZURE_STORAGE_BLOB_ENDPOINT: endpoint };
  delete env.AZURE_STORAGE_CONNECTION_STRING;
  return env;
}

async function ledgerOf(bucket: string, report: { ledger: string }): Promise<LedgerEntry[]> {
  const key = report.ledger.replace(`s3://${bucket}/`, "");
  return (await getText(clients.s3(), bucket, key)).split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

describe("least privilege: a SAS with only read and list", () => {
  it("migrates a container end to end when listing with tags answers 403; the report warns once about tags, every ledger entry is marked", async () => {
    // Prepare: blobs with tags, an `rl` SAS, and a proxy answering 403 to include=tags as Azure does (Azurite 3.35 does not enforce it).
    const container = await withRetry(() => newContainer("rl"), { attempts: 5, baseMs: 100 });
    const bodies = new Map<string, Buffer>();
    for (let i = 0; i < 5; i++) bodies.set(`d/${i}.bin`, randomBytes(1000 + i * 777));
    for (const [name, body] of bodies) await upload(container, name, body, { tags: { team: "x" }, metadata: { origin: "rl" } });
    const bucket = await newBucket("rl");
    const sas = containerSas(container, "rl");
    const proxy = await startFaultProxy({
      target: inject("azurite").endpoint.replace(/\/devstoreaccount1\/?$/, ""),
      flavour: "azure",
      rules: [{ fault: { kind: "permission-mismatch" }, methods: ["GET"], path: /[?&]include=[^&]*tags/i }],
    });
    const dir = mkdtempSync(join(tmpdir(), "rl-"));
    try {
      // Act
      const reportFile = join(dir, "report.json");
      const res = await runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}`, "--report", reportFile], sasEnv(`${proxy.endpoint}/${inject("azurite").account}`, sas));
      // Assess
      expect(res.code, res.stderr + res.stdout).toBe(0);
      expect(proxy.stats.faults["permission-mismatch"]).toBeGreaterThanOrEqual(1);
      const report = JSON.parse(readFileSync(reportFile, "utf8"));
      expect(report).toMatchObject({ status: "succeeded", objects: { planned: bodies.size, copied: bodies.size, failed: 0 } });
      const tagWarnings = report.warnings.filter((w: { warning: string }) => /tags/.test(w.warning));
      expect(tagWarnings).toHaveLength(1);
      expect(tagWarnings[0].warning).toMatch(/AuthorizationPermissionMismatch/);
      const s3 = clients.s3();
      for (const [name, body] of bodies) expect(md5(await getBytes(s3, bucket, name)), name).toBe(md5(body));
      const ledger = await ledgerOf(bucket, report);
      expect(ledger).toHaveLength(bodies.size);
      for (const e of ledger) expect(e.notes, e.key).toContain(TAGS_NOT_READ);
      for (const text of [res.stdout, res.stderr, readFileSync(reportFile, "utf8")]) expect(text.includes(new URLSearchParams(sas).get("sig")!)).toBe(false);
      // `migrate verify` with the same SAS: tags are not compared, and it says why.
      const verify = await runCli(["verify", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}`, "--json"], sasEnv(`${proxy.endpoint}/${inject("azurite").account}`, sas));
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      expect(JSON.parse(verify.stdout)).toMatchObject({ checked: bodies.size, matched: bodies.size, tagsNotCompared: expect.stringMatching(/403 AuthorizationPermissionMismatch/) });
    } finally {
      await proxy.stop();
    }
  });

  it("a tag read refused by Azurite itself (Get Blob Tags with an rl SAS) gives the blob without tags, marked, instead of an error", async () => {
    const container = await withRetry(() => newContainer("rlstat"), { attempts: 5, baseMs: 100 });
    await upload(container, "t.txt", "tagged", { tags: { a: "b" } });
    await upload(container, "u.txt", "untagged");
    const a = inject("azurite");
    const source = new AzureBlobSource(createBlobServiceClient({ kind: "sas", accountName: a.account, endpoint: a.endpoint.replace(/\/$/, ""), sasToken: containerSas(container, "rl") }, undefined));
    const tagged = await source.stat(container.containerName, "t.txt");
    expect(tagged).toMatchObject({ name: "t.txt", size: 6, tags: {}, tagsUnread: true });
    // A blob whose properties say it has no tags needs no tag read: nothing is unknown about it.
    const untagged = await source.stat(container.containerName, "u.txt");
    expect(untagged?.tagsUnread).toBeUndefined();
    // With the tag permission the tags are read.
    const full = new AzureBlobSource(createBlobServiceClient({ kind: "sas", accountName: a.account, endpoint: a.endpoint.replace(/\/$/, ""), sasToken: containerSas(container, "rlt") }, undefined));
    expect(await full.stat(container.containerName, "t.txt")).toMatchObject({ tags: { a: "b" } });
    expect((await full.stat(container.containerName, "t.txt"))?.tagsUnread).toBeUndefined();
  });
});

/**
 * `migrate verify` after an HNS run: the one difference is Ceph RGW's, which stores the
 * metadata name `hdi_isfolder` of the non-empty lake/odd.bin as `hdi-isfolder`.
 */
function expectOnlyRgwRename(differences: Array<{ key: string; problem: string }>) {
  expect(differences).toEqual([{ key: "lake/odd.bin", problem: expect.stringMatching(/rewritten by server: hdi_isfolder stored as hdi-isfolder/) }]);
}

describe("hierarchical namespace (ADLS Gen2) directory placeholders", () => {
  /** The listing shape of an HNS account: each directory a zero-byte blob with hdi_isfolder=true. */
  async function lake(): Promise<{ container: ContainerClient; files: Map<string, Buffer> }> {
    const container = await withRetry(() => newContainer("hns"), { attempts: 5, baseMs: 100 });
    await upload(container, "lake/2024", "", { metadata: { hdi_isfolder: "true" } });
    await upload(container, "lake/2024/q1", "", { metadata: { hdi_isfolder: "true" } });
    const files = new Map<string, Buffer>([
      ["lake/2024/q1/data.csv", randomBytes(4321)],
      // A zero-byte file is a file: only the metadata makes a directory.
      ["lake/2024/empty.txt", Buffer.alloc(0)],
      // Non-empty with the marker: a file whose metadata happens to say so is still copied as data.
      ["lake/odd.bin", randomBytes(10)],
    ]);
    for (const [name, body] of files) await upload(container, name, body, name === "lake/odd.bin" ? { metadata: { hdi_isfolder: "true" } } : undefined);
    return { container, files };
  }

  it("are skipped by default and counted as directories; the report says once that POSIX ACLs are not carried", async () => {
    const { container, files } = await lake();
    const bucket = await newBucket("hns");
    const res = await runCli(["run", "--from", `azure://${container.containerName}/lake/`, "--to", `s3://${bucket}/copy/`, "--json"], serverEnv());
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout);
    expect(report.objects).toMatchObject({ planned: files.size, copied: files.size, failed: 0, directories: 2 });
    expect((await listKeys(clients.s3(), bucket, "copy/")).sort()).toEqual([...files.keys()].map((n) => n.replace(/^lake\//, "copy/")).sort());
    const acl = report.warnings.filter((w: { warning: string }) => /POSIX ACL/.test(w.warning));
    expect(acl).toHaveLength(1);
    const verify = await runCli(["verify", "--from", `azure://${container.containerName}/lake/`, "--to", `s3://${bucket}/copy/`, "--json"], serverEnv());
    expect(JSON.parse(verify.stdout)).toMatchObject({ checked: files.size, directories: 2, extra: [], missing: 0 });
    expectOnlyRgwRename(JSON.parse(verify.stdout).differences);

    const dry = await runCli(["run", "--from", `azure://${container.containerName}/lake/`, "--to", `s3://${bucket}/dry/`, "--json", "--dry-run"], serverEnv());
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).objects).toMatchObject({ planned: files.size, directories: 2 });
  });

  it("with --directory-markers are written as dir/ keys of zero bytes, and a second run skips them", async () => {
    const { container, files } = await lake();
    const bucket = await newBucket("hnsm");
    const args = ["run", "--from", `azure://${container.containerName}/lake/`, "--to", `s3://${bucket}/m/`, "--json", "--directory-markers", "--run-id"];
    const res = await runCli([...args, "markers-1"], serverEnv());
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout);
    expect(report.objects).toMatchObject({ planned: files.size + 2, copied: files.size + 2, failed: 0, directories: 2 });
    const keys = await listKeys(clients.s3(), bucket, "m/");
    expect(keys).toContain("m/2024/");
    expect(keys).toContain("m/2024/q1/");
    expect(keys).not.toContain("m/2024");
    expect((await getBytes(clients.s3(), bucket, "m/2024/q1/")).length).toBe(0);
    const verify = await runCli(["verify", "--from", `azure://${container.containerName}/lake/`, "--to", `s3://${bucket}/m/`, "--json"], serverEnv());
    expect(JSON.parse(verify.stdout)).toMatchObject({ checked: files.size, directories: 2, extra: [], missing: 0 });
    expectOnlyRgwRename(JSON.parse(verify.stdout).differences);
    const again = await runCli([...args, "markers-2"], serverEnv());
    expect(JSON.parse(again.stdout).objects).toMatchObject({ planned: files.size + 2, copied: 0, skipped: files.size + 2 });
  });
});

describe("customer-provided-key (CPK) blobs", () => {
  it("fail with the reason 'encrypted with a customer-provided key' when Azure refuses to serve them; the others are copied", async () => {
    // Azurite takes CPK only over HTTPS and does not enforce it: the proxy answers the read as Azure does.
    const container = await withRetry(() => newContainer("cpk"), { attempts: 5, baseMs: 100 });
    await upload(container, "plain.txt", "plain");
    await upload(container, "cpk.bin", "sealed");
    const bucket = await newBucket("cpk");
    const a = inject("azurite");
    const proxy = await startFaultProxy({
      target: a.endpoint.replace(/\/devstoreaccount1\/?$/, ""),
      flavour: "azure",
      rules: [{ fault: { kind: "error", status: 409, code: "BlobUsesCustomerSpecifiedEncryption", message: "The blob is encrypted with customer specified encryption, but it was not provided in the request." }, methods: ["GET"], path: /\/cpk\.bin(\?|$)/ }],
    });
    try {
      const env = { ...serverEnv(), AZURE_STORAGE_CONNECTION_STRING: a.connectionString.replace(a.endpoint, `${proxy.endpoint}/${a.account}`) };
      const res = await runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}`, "--json"], env);
      expect(res.code, res.stderr).toBe(1);
      const report = JSON.parse(res.stdout);
      expect(report.objects).toMatchObject({ planned: 2, copied: 1, failed: 1 });
      expect(report.failures).toEqual([{ key: "cpk.bin", reason: expect.stringMatching(/^encrypted with a customer-provided key/) }]);
      expect(report.failuresByReason).toEqual({ "customer-key": 1 });
      expect(proxy.stats.faults.error).toBeGreaterThanOrEqual(1);
    } finally {
      await proxy.stop();
    }
  });
});

describe("a stale Content-MD5 at the source", () => {
  it("fails as md5-mismatch by default; --source-md5 ignore copies it verified by our hashes, notes it in the ledger, and does not write the stale value", async () => {
    const container = await withRetry(() => newContainer("stale"), { attempts: 5, baseMs: 100 });
    const small = randomBytes(3000);
    const large = randomBytes(6 * 1024 * 1024 + 5);
    await upload(container, "small.bin", small);
    await upload(container, "large.bin", large);
    // A blob rewritten by a tool that kept the old Content-MD5: the header no longer matches the bytes.
    const stale = Buffer.from(md5(Buffer.from("an older version")), "hex");
    for (const name of ["small.bin", "large.bin"]) await container.getBlobClient(name).setHTTPHeaders({ blobContentMD5: stale });
    const tuning = { MULTIPART_THRESHOLD_MB: "5", PART_SIZE_MB: "5" };
    const from = `azure://${container.containerName}`;

    const bucket = await newBucket("stale");
    const strict = await runCli(["run", "--from", from, "--to", `s3://${bucket}`, "--json"], { ...serverEnv(), ...tuning });
    expect(strict.code, strict.stderr).toBe(1);
    expect(JSON.parse(strict.stdout)).toMatchObject({ objects: { planned: 2, copied: 0, failed: 2 }, failuresByReason: { "md5-mismatch": 2 } });
    expect(await listKeys(clients.s3(), bucket, "small")).toEqual([]);

    const res = await runCli(["run", "--from", from, "--to", `s3://${bucket}`, "--json", "--source-md5", "ignore"], { ...serverEnv(), ...tuning });
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout);
    expect(report.objects).toMatchObject({ planned: 2, copied: 2, failed: 0 });
    const s3 = clients.s3();
    expect(md5(await getBytes(s3, bucket, "small.bin"))).toBe(md5(small));
    expect(md5(await getBytes(s3, bucket, "large.bin"))).toBe(md5(large));
    const ledger = await ledgerOf(bucket, report);
    for (const e of ledger) expect(e.notes?.some((n) => n.startsWith("source Content-MD5 stale")), e.key).toBe(true);
    for (const [key, body] of [["small.bin", small], ["large.bin", large]] as const) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(head.Metadata?.md5chksum, key).not.toBe(stale.toString("base64"));
      if (head.Metadata?.md5chksum) expect(head.Metadata.md5chksum).toBe(Buffer.from(md5(body), "hex").toString("base64"));
    }
  });
});

describe("snapshots, older versions and soft-deleted blobs", () => {
  it("are never copied; the dry run and the report count them as older versions", async () => {
    const container = await withRetry(() => newContainer("hist"), { attempts: 5, baseMs: 100 });
    await upload(container, "a.txt", "first");
    await container.getBlobClient("a.txt").createSnapshot();
    await upload(container, "a.txt", "second");
    await container.getBlobClient("a.txt").createSnapshot();
    await upload(container, "a.txt", "current");
    await upload(container, "b.txt", "b");
    const bucket = await newBucket("hist");
    const from = `azure://${container.containerName}`;
    const dry = await runCli(["run", "--from", from, "--to", `s3://${bucket}`, "--json", "--dry-run"], serverEnv());
    expect(dry.code, dry.stderr).toBe(0);
    const planned = JSON.parse(dry.stdout);
    expect(planned.objects).toMatchObject({ planned: 2, olderVersions: 2 });
    expect(planned.warnings.map((w: { warning: string }) => w.warning)).toContain("2 older versions not copied (snapshots, previous versions and soft-deleted blobs): only current blobs are migrated");

    const res = await runCli(["run", "--from", from, "--to", `s3://${bucket}`, "--json"], serverEnv());
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).objects).toMatchObject({ planned: 2, copied: 2, olderVersions: 2 });
    expect((await listKeys(clients.s3(), bucket)).filter((k) => !k.startsWith(".migrate-state/")).sort()).toEqual(["a.txt", "b.txt"]);
    expect((await getBytes(clients.s3(), bucket, "a.txt")).toString()).toBe("current");
  });
});

describe("an identity refused the listing of versions", () => {
  it("lists without them, keeps tags, and the report says once that older versions could not be listed", async () => {
    const container = await withRetry(() => newContainer("nover"), { attempts: 5, baseMs: 100 });
    await upload(container, "t.txt", "tagged", { tags: { k: "v" } });
    const bucket = await newBucket("nover");
    const a = inject("azurite");
    const proxy = await startFaultProxy({
      target: a.endpoint.replace(/\/devstoreaccount1\/?$/, ""),
      flavour: "azure",
      rules: [{ fault: { kind: "permission-mismatch" }, methods: ["GET"], path: /[?&]include=[^&]*versions/i }],
    });
    try {
      const env = { ...serverEnv(), AZURE_STORAGE_CONNECTION_STRING: a.connectionString.replace(a.endpoint, `${proxy.endpoint}/${a.account}`) };
      const res = await runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}`, "--json"], env);
      expect(res.code, res.stderr).toBe(0);
      const report = JSON.parse(res.stdout);
      expect(report.objects).toMatchObject({ planned: 1, copied: 1 });
      const texts = report.warnings.map((w: { warning: string }) => w.warning);
      expect(texts.filter((t: string) => /could not be listed/.test(t))).toHaveLength(1);
      expect(texts.filter((t: string) => /tags could not be read/.test(t))).toHaveLength(0);
      const tags = await clients.s3().send(new GetObjectTaggingCommand({ Bucket: bucket, Key: "t.txt" }));
      expect(tags.TagSet).toEqual([{ Key: "k", Value: "v" }]);
    } finally {
      await proxy.stop();
    }
  });
});
