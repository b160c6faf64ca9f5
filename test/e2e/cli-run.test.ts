import { describe, it, expect, beforeAll } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import type { ContainerClient } from "@azure/storage-blob";
import { inject } from "vitest";
import { clients, newBucket, newContainer, serverEnv, uniqueName } from "../support/env.ts";
import { runCli } from "../support/cli.ts";
import { startFaultProxy } from "../support/fault-proxy.ts";

const md5 = (b: Buffer | Uint8Array) => createHash("md5").update(b).digest("hex");
const MiB = 1024 * 1024;
const tuning = { MULTIPART_THRESHOLD_MB: "5", PART_SIZE_MB: "5" };

const ODD_NAMES = [
  "plain.txt",
  "unicode/é文件名 ü.txt",
  "spaces/a b  c.txt",
  "symbols/100% #1 ?x=y&z +plus.txt",
  "double//slash.txt",
  "empty.bin",
  "dir-marker/",
  `long/${"n".repeat(1000)}.txt`,
];

async function seed(container: ContainerClient) {
  const bodies = new Map<string, Buffer>();
  for (const [i, name] of ODD_NAMES.entries()) {
    const body = name === "empty.bin" || name.endsWith("/") ? Buffer.alloc(0) : randomBytes(500 + i * 100);
    await container.getBlockBlobClient(name).upload(body, body.length, {
      metadata: { owner: "ops", index: String(i) },
      tags: { team: "data", idx: String(i) },
      blobHTTPHeaders: { blobContentType: "text/plain; charset=utf-8", blobCacheControl: "max-age=300", blobContentLanguage: "fr", blobContentDisposition: "inline", blobContentEncoding: "identity" },
    });
    bodies.set(name, body);
  }
  // A large blob staged in blocks, without Content-MD5: verified by our own hashes.
  const big = randomBytes(12 * MiB + 17);
  const bb = container.getBlockBlobClient("big/blocks.bin");
  const ids: string[] = [];
  for (let off = 0, i = 0; off < big.length; off += 4 * MiB, i++) {
    const id = Buffer.from(String(i).padStart(6, "0")).toString("base64");
    const chunk = big.subarray(off, Math.min(big.length, off + 4 * MiB));
    await bb.stageBlock(id, chunk, chunk.length);
    ids.push(id);
  }
  await bb.commitBlockList(ids, { metadata: { kind: "big" } });
  bodies.set("big/blocks.bin", big);
  return bodies;
}

describe("migrate run against Azurite and Ceph RGW", () => {
  let container: ContainerClient;
  let bodies: Map<string, Buffer>;
  let bucket: string;
  let dir: string;

  beforeAll(async () => {
    container = await newContainer("cli");
    bodies = await seed(container);
    bucket = await newBucket("cli");
    dir = mkdtempSync(join(tmpdir(), "cli-run-"));
  });

  it("copies odd names, every header, metadata key and tag, byte-exact; exit 0 and the report contract", async () => {
    // Act
    const reportFile = join(dir, "report.json");
    // WHOLE_OBJECT_MD5=always: the ledger holds our MD5 of the multipart blob without Content-MD5 too (checked by the next test).
    const res = await runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}/copy`, "--report", reportFile, "--run-id", "first-run"], {
      ...serverEnv(),
      ...tuning,
      WHOLE_OBJECT_MD5: "always",
    });
    // Assess
    expect(res.stderr).not.toMatch(/Error:/);
    // No library warning reaches the operator's terminal (the SDK warns of a PutObject body without a length).
    expect(res.stderr).not.toMatch(/unknown length|Consider using/);
    expect(res.code).toBe(0);
    const report = JSON.parse(readFileSync(reportFile, "utf8"));
    expect(report).toMatchObject({ runId: "first-run", status: "succeeded", objects: { planned: bodies.size, copied: bodies.size, skipped: 0, failed: 0 }, failures: [] });
    expect(report.bytes.planned).toBe([...bodies.values()].reduce((s, b) => s + b.length, 0));
    expect(report.bytes.copied).toBe(report.bytes.planned);
    const s3 = clients.s3();
    for (const [name, body] of bodies) {
      const key = `copy/${name}`;
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(md5(await got.Body!.transformToByteArray()), name).toBe(md5(body));
      if (name === "big/blocks.bin") {
        // No Content-MD5 at the source: our MD5, computed while streaming, is in the ledger;
        // the multipart ETag on the destination is checked against our part MD5s.
        expect(got.Metadata?.kind).toBe("big");
        expect(got.ETag).toMatch(/-3"$/);
        continue;
      }
      expect(got.ContentType).toBe("text/plain; charset=utf-8");
      expect(got.CacheControl).toBe("max-age=300");
      expect(got.ContentLanguage).toBe("fr");
      expect(got.ContentDisposition).toBe("inline");
      expect(got.ContentEncoding).toBe("identity");
      expect(got.Metadata).toMatchObject({ owner: "ops", index: String(ODD_NAMES.indexOf(name)) });
      const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
      expect(Object.fromEntries(tags.TagSet!.map((t) => [t.Key, t.Value]))).toEqual({ team: "data", idx: String(ODD_NAMES.indexOf(name)) });
    }
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "copy/" }));
    expect(listed.KeyCount).toBe(bodies.size);
    const open = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(open.Uploads ?? []).toHaveLength(0);

    const verify = await runCli(["verify", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}/copy`], serverEnv());
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });

  it("status and report read a finished run from the state store", async () => {
    const status = await runCli(["status", "first-run", "--state-bucket", bucket, "--json"], serverEnv());
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: "finished", objects: { planned: bodies.size, copied: bodies.size }, shards: { listingDone: true } });
    const csv = await runCli(["report", "first-run", "--state-bucket", bucket, "--csv"], serverEnv());
    expect(csv.code).toBe(0);
    const rows = csv.stdout.trim().split("\n");
    expect(rows[0]).toBe("key,source,size,outcome,code,reason,md5");
    expect(rows).toHaveLength(bodies.size + 1);
    expect(rows.filter((r) => r.includes(",copied,"))).toHaveLength(bodies.size);
    const ledgerRow = rows.find((r) => r.startsWith("copy/big/blocks.bin,"))!;
    expect(ledgerRow.split(",").at(-1)).toBe(md5(bodies.get("big/blocks.bin")!));
    // A self-contained page: the run's figures, no script, nothing to fetch.
    const page = join(mkdtempSync(join(tmpdir(), "report-")), "run.html");
    const html = await runCli(["report", "first-run", "--state-bucket", bucket, "--html", page], serverEnv());
    expect(html.code, html.stderr).toBe(0);
    const text = readFileSync(page, "utf8");
    expect(text).toMatch(/^<!doctype html>/);
    expect(text).toContain("first-run");
    expect(text).toContain(`<tr><th>copied</th><td>${bodies.size}</td></tr>`);
    expect(text).toMatch(/Throughput over time[\s\S]*<svg[\s\S]*<rect/);
    expect(text).toMatch(/Slowest shards[\s\S]*<td>s-000000<\/td>/);
    expect(text).not.toMatch(/<script|<link|<img|\bsrc=|\bhref=|@import|url\(/i);
    const unknown = await runCli(["report", "no-such-run", "--state-bucket", bucket], serverEnv());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no-such-run/);
  });

  it("a second run over unchanged data copies nothing, decided from the listings: no HEAD, no source read; the multipart blob by its copy proof", async () => {
    // Prepare: count the requests of both servers through proxies that only forward
    const seen: Array<{ side: "azure" | "s3"; method: string; path: string }> = [];
    const azurite = inject("azurite").connectionString;
    const blobEndpoint = /BlobEndpoint=([^;]+)/.exec(azurite)![1]!;
    const azureProxy = await startFaultProxy({ target: new URL(blobEndpoint).origin, onRequest: (method, path) => seen.push({ side: "azure", method, path }) });
    const s3Proxy = await startFaultProxy({ target: inject("rgw").endpoint, onRequest: (method, path) => seen.push({ side: "s3", method, path }) });
    const env = { ...serverEnv(), ...tuning, S3_ENDPOINT: s3Proxy.endpoint, AZURE_STORAGE_CONNECTION_STRING: azurite.replace(new URL(blobEndpoint).origin, azureProxy.endpoint) };
    const s3 = clients.s3();
    const proofsPrefix = `.migrate-state/proofs/${bucket}/`;
    const proofKeys = async () => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: proofsPrefix }))).Contents ?? []).map((o) => o.Key!);
    const dataRequests = (method: string) => seen.filter((r) => r.side === "s3" && r.method === method && r.path.startsWith(`/${bucket}/copy/`)).map((r) => decodeURIComponent(r.path.split("?")[0]!.slice(`/${bucket}/copy/`.length)));
    const sourceReads = () => seen.filter((r) => r.side === "azure" && r.method === "GET" && !r.path.includes("comp=list"));
    const rerun = async () => {
      seen.length = 0;
      const res = await runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}/copy`, "--json"], env);
      expect(res.code, res.stderr).toBe(0);
      return JSON.parse(res.stdout);
    };
    try {
      // The first run left one copy proof, in the state prefix, for the one blob its listed ETag can not prove:
      // a Content-MD5 and one PUT make the ETag that MD5; this one has neither.
      const undecidable: string[] = [];
      for await (const b of container.listBlobsFlat()) {
        if (b.name.endsWith("/")) continue;
        if (!b.properties.contentMD5 || (b.properties.contentLength ?? 0) >= 5 * MiB) undecidable.push(b.name);
      }
      expect(undecidable).toEqual(["big/blocks.bin"]);
      expect(await proofKeys()).toEqual([expect.stringMatching(new RegExp(`^${proofsPrefix.replace(/\./g, "\\.")}copy/big/blocks\\.bin#[0-9a-f]{32}$`))]);

      // Act
      const report = await rerun();
      // Assess: every blob skipped, with no HEAD and no GET of a data object, no source read
      expect(report.objects).toMatchObject({ planned: bodies.size, copied: 0, skipped: bodies.size, failed: 0 });
      expect(dataRequests("HEAD")).toEqual([]);
      expect(dataRequests("GET")).toEqual([]);
      expect(sourceReads()).toEqual([]);

      // The proofs gone: the multipart blob falls back to its HEAD, still skipped, and its proof is written again
      for (const k of await proofKeys()) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: k }));
      const again = await rerun();
      expect(again.objects).toMatchObject({ planned: bodies.size, copied: 0, skipped: bodies.size, failed: 0 });
      expect(dataRequests("HEAD")).toEqual(undecidable);
      expect(sourceReads()).toEqual([]);
      expect(await proofKeys()).toHaveLength(1);
      await rerun();
      expect(dataRequests("HEAD")).toEqual([]);

      // Overwritten out of band with other bytes of the same size: its ETag is no longer the proven one, it is copied again
      const big = bodies.get("big/blocks.bin")!;
      const other = randomBytes(big.length);
      const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "copy/big/blocks.bin" }));
      const parts = [];
      for (let off = 0, n = 1; off < other.length; off += 5 * MiB, n++) {
        const r = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: "copy/big/blocks.bin", UploadId: upload.UploadId, PartNumber: n, Body: other.subarray(off, off + 5 * MiB) }));
        parts.push({ PartNumber: n, ETag: r.ETag });
      }
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: "copy/big/blocks.bin", UploadId: upload.UploadId, MultipartUpload: { Parts: parts } }));
      const overwritten = await rerun();
      expect(overwritten.objects).toMatchObject({ planned: bodies.size, copied: 1, skipped: bodies.size - 1, failed: 0 });
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "copy/big/blocks.bin" }));
      expect(md5(await got.Body!.transformToByteArray())).toBe(md5(big));
      // The copy is the same bytes in the same parts as the first one: the same ETag, so the same proof as before the overwrite
      expect(await proofKeys()).toHaveLength(1);
      await rerun();
      expect(dataRequests("HEAD")).toEqual([]);
    } finally {
      await azureProxy.stop();
      await s3Proxy.stop();
    }
  });

  it("exit 2 with a message naming the flag or variable, and nothing written", async () => {
    const fresh = uniqueName("never");
    const badFlag = await runCli(["run", "--from", "azure://Bad_Container", "--to", `s3://${fresh}`], serverEnv());
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/--from/);
    const env = serverEnv();
    delete (env as Record<string, string | undefined>).S3_SECRET_ACCESS_KEY;
    const missing = await runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${fresh}`], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/S3_SECRET_ACCESS_KEY/);
    const badNumber = await runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${fresh}`, "--concurrency", "zero"], serverEnv());
    expect(badNumber.code).toBe(2);
    expect(badNumber.stderr).toMatch(/--concurrency/);
    await expect(clients.s3().send(new HeadBucketCommand({ Bucket: fresh }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
  });

  it("exit 1 with an archived blob reported by reason, the rest copied", async () => {
    const c = await newContainer("arch");
    await c.getBlockBlobClient("ok.txt").upload("fine", 4);
    const archived = c.getBlockBlobClient("cold.txt");
    await archived.upload("frozen", 6);
    await archived.setAccessTier("Archive");
    const b = await newBucket("arch");
    const res = await runCli(["run", "--from", `azure://${c.containerName}`, "--to", `s3://${b}`, "--json"], serverEnv());
    expect(res.code).toBe(1);
    const report = JSON.parse(res.stdout);
    expect(report.objects).toMatchObject({ planned: 2, copied: 1, failed: 1, archived: 1 });
    expect(report.failures).toEqual([{ key: "cold.txt", reason: expect.stringMatching(/archived: rehydrate first/) }]);
  });

  it("runs the same migration through a real SQS queue (fauxqs)", async () => {
    const c = await newContainer("sqs");
    for (let i = 0; i < 25; i++) await c.getBlockBlobClient(`q/${i}`).upload(`body ${i}`, `body ${i}`.length);
    const b = await newBucket("sqs");
    const q = inject("sqs");
    const res = await runCli(["run", "--from", `azure://${c.containerName}/q`, "--to", `s3://${b}`, "--queue", "sqs", "--json", "--shard-objects", "4"], {
      ...serverEnv(),
      SQS_ENDPOINT: q.endpoint,
      SQS_REGION: q.region,
      SQS_ACCESS_KEY_ID: q.accessKeyId,
      SQS_SECRET_ACCESS_KEY: q.secretAccessKey,
    });
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout);
    expect(report.objects).toMatchObject({ planned: 25, copied: 25, failed: 0 });
    expect(report.shards).toBe(7);
    const got = await clients.s3().send(new GetObjectCommand({ Bucket: b, Key: "13" }));
    expect(await got.Body!.transformToString()).toBe("body 13");
    const head = await clients.s3().send(new HeadObjectCommand({ Bucket: b, Key: "0" }));
    expect(head.ContentLength).toBe(6);
  });
});

describe("migrate run refuses what it can not read", () => {
  it("exit 2 for a container that does not exist, a wrong account key and an unreachable endpoint; nothing written", async () => {
    const bucket = await newBucket("refuse");
    const missing = await runCli(["run", "--from", "azure://no-such-container-here", "--to", `s3://${bucket}`], serverEnv());
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no-such-container-here does not exist/);
    // The source and the buckets are checked at once; a missing bucket is created only when every check passed.
    const [fresh, freshState] = [uniqueName("refusednew"), uniqueName("refusedstate")];
    const missingToNew = await runCli(["run", "--from", "azure://no-such-container-here", "--to", `s3://${fresh}`], { ...serverEnv(), STATE_BUCKET: freshState });
    expect(missingToNew.code).toBe(2);
    for (const b of [fresh, freshState]) await expect(clients.s3().send(new HeadBucketCommand({ Bucket: b }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    const env = serverEnv();
    const wrongKey = env.AZURE_STORAGE_CONNECTION_STRING.replace(/AccountKey=[^;]+/, `AccountKey=${Buffer.from("x".repeat(64)).toString("base64")}`);
    const denied = await runCli(["run", "--from", "azure://anything", "--to", `s3://${bucket}`], { ...env, AZURE_STORAGE_CONNECTION_STRING: wrongKey });
    expect(denied.code).toBe(2);
    expect(denied.stderr).toMatch(/refused/);
    const down = env.AZURE_STORAGE_CONNECTION_STRING.replace(/BlobEndpoint=http:\/\/127\.0\.0\.1:\d+/, "BlobEndpoint=http://127.0.0.1:9");
    const unreachable = await runCli(["run", "--from", "azure://anything", "--to", `s3://${bucket}`], { ...env, AZURE_STORAGE_CONNECTION_STRING: down, MAX_ATTEMPTS: "1", RETRY_BUDGET_SECONDS: "2" });
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toMatch(/not reachable/);
    const listed = await clients.s3().send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });
});
