import { describe, it, expect } from "vitest";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { DeleteObjectCommand, PutObjectCommand, PutObjectTaggingCommand } from "@aws-sdk/client-s3";
import type { ContainerClient } from "@azure/storage-blob";
import { clients, newBucket, newContainer, serverEnv } from "../support/env.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

function migrate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("node", ["bin/migrate.js", ...args], { cwd: ROOT, env: { ...process.env, ...serverEnv() }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

interface Seed {
  name: string;
  body: Buffer;
  headers?: { blobContentType?: string; blobContentEncoding?: string; blobContentLanguage?: string; blobContentDisposition?: string; blobCacheControl?: string };
  metadata?: Record<string, string>;
  tags?: Record<string, string>;
  /** Uploaded as blocks, so the blob has no Content-MD5. */
  blocks?: boolean;
}

async function seed(container: ContainerClient, blobs: Seed[]): Promise<void> {
  for (const b of blobs) {
    const client = container.getBlockBlobClient(b.name);
    if (b.blocks) {
      const ids: string[] = [];
      for (let off = 0, i = 0; off < b.body.length; off += 1024 * 1024, i++) {
        const id = Buffer.from(`block-${String(i).padStart(6, "0")}`).toString("base64");
        await client.stageBlock(id, b.body.subarray(off, off + 1024 * 1024), Math.min(1024 * 1024, b.body.length - off));
        ids.push(id);
      }
      await client.commitBlockList(ids, { blobHTTPHeaders: b.headers, metadata: b.metadata, tags: b.tags });
    } else {
      await client.upload(b.body, b.body.length, { blobHTTPHeaders: b.headers, metadata: b.metadata, tags: b.tags });
    }
  }
}

/** What the migrator writes for one blob, done with plain SDK calls; `body` overrides the bytes. */
async function copyAsMigrator(container: ContainerClient, name: string, bucket: string, key: string, body?: Buffer): Promise<void> {
  const blob = container.getBlobClient(name);
  const props = await blob.getProperties();
  const { tags } = await blob.getTags();
  const source = await blob.downloadToBuffer();
  const md5 = props.contentMD5 ? Buffer.from(props.contentMD5).toString("base64") : createHash("md5").update(source).digest("base64");
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(props.metadata ?? {})) metadata[k.toLowerCase()] = v;
  Object.assign(metadata, { md5chksum: md5, "azure-etag": props.etag!, "azure-last-modified": props.lastModified!.toISOString() });
  const data = body ?? source;
  await clients.s3().send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: data,
      ContentLength: data.length,
      ContentMD5: createHash("md5").update(data).digest("base64"),
      ContentType: props.contentType,
      ContentEncoding: props.contentEncoding,
      ContentLanguage: props.contentLanguage,
      ContentDisposition: props.contentDisposition,
      CacheControl: props.cacheControl,
      Metadata: metadata,
      // RGW keeps "+" literally in this header: percent-encode each part.
      Tagging: Object.entries(tags).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&") || undefined,
    }),
  );
}

interface Report {
  checked: number;
  matched: number;
  missing: number;
  differences: Array<{ key: string; problem: string }>;
  extra: string[];
  archived: string[];
}

describe("migrate verify against Azurite and Ceph RGW", () => {
  it("passes on a faithful copy with prefixes, odd names, no-MD5 blobs, archived and outside blobs", async () => {
    // Prepare
    const container = await newContainer("vsrc");
    const bucket = await newBucket("vdst");
    const blobs: Seed[] = [
      { name: "p1/plain.txt", body: Buffer.from("hello verify\n"), headers: { blobContentType: "text/plain" }, metadata: { Project: "hdh", owner: "ops" }, tags: { tier: "gold" } },
      {
        name: "p1/dir/odd name %#?+é😀.bin",
        body: randomBytes(100_000),
        headers: { blobContentType: "application/x-odd", blobContentEncoding: "identity", blobContentLanguage: "fr", blobContentDisposition: 'attachment; filename="o.bin"', blobCacheControl: "max-age=60" },
        tags: { "data-class": "health", "a+b": "c d" },
      },
      { name: "p1/a//b.bin", body: randomBytes(2048) },
      { name: "p1/empty", body: Buffer.alloc(0) },
      { name: "p1/big.bin", body: randomBytes(3 * 1024 * 1024 + 17), blocks: true, metadata: { kind: "blocks" } },
      { name: "p1/cold.bin", body: randomBytes(512) },
      { name: "p10/not-under-prefix.txt", body: Buffer.from("outside") },
    ];
    await seed(container, blobs);
    await container.getBlobClient("p1/cold.bin").setAccessTier("Archive");
    for (const b of blobs) {
      if (b.name.startsWith("p1/") && b.name !== "p1/cold.bin") await copyAsMigrator(container, b.name, bucket, `p2/${b.name.slice(3)}`);
    }
    expect((await container.getBlobClient("p1/big.bin").getProperties()).contentMD5).toBeUndefined();

    // Act
    const [json, text] = await Promise.all([
      migrate(["verify", "--from", `azure://${container.containerName}/p1`, "--to", `s3://${bucket}/p2/`, "--json", "--concurrency", "3"]),
      migrate(["verify", "--from", `azure://${container.containerName}/p1/`, "--to", `s3://${bucket}/p2`]),
    ]);

    // Assess
    expect(json.stderr).toBe("");
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as Report;
    expect(report).toEqual({ checked: 5, matched: 5, missing: 0, differences: [], extra: [], archived: ["p1/cold.bin"] });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('archived "p1/cold.bin": not verifiable');
    expect(text.stdout).toMatch(/^verify: 5 checked, 5 matched, 0 with differences \(0 differences, 0 missing\), 0 extra, 1 archived$/m);
  });

  it("reports a changed byte, header and tag, a deleted object, a renamed metadata name and an extra object", async () => {
    // Prepare: a root-to-root copy, with run state in the bucket that must not count as extra.
    const container = await newContainer("vsrc");
    const bucket = await newBucket("vdst");
    const blobs: Seed[] = [
      { name: "bytes.bin", body: randomBytes(64 * 1024), metadata: { n: "1" } },
      { name: "header.txt", body: Buffer.from("h"), headers: { blobContentType: "text/plain" } },
      { name: "tagged.txt", body: Buffer.from("t"), tags: { a: "1", b: "2" } },
      { name: "deleted.txt", body: Buffer.from("d") },
      { name: "renamed.txt", body: Buffer.from("r"), metadata: { my_key: "v" } },
      { name: "fine.txt", body: Buffer.from("f"), metadata: { ok: "yes" }, tags: { z: "9" } },
    ];
    await seed(container, blobs);
    for (const b of blobs) await copyAsMigrator(container, b.name, bucket, b.name);
    const s3 = clients.s3();
    const flipped = Buffer.from(blobs[0]!.body);
    flipped[40_000] = flipped[40_000]! ^ 0x01;
    await copyAsMigrator(container, "bytes.bin", bucket, "bytes.bin", flipped);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "header.txt", Body: "h", ContentType: "text/html", Metadata: await markers(container, "header.txt") }));
    await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: "tagged.txt", Tagging: { TagSet: [{ Key: "a", Value: "1" }, { Key: "b", Value: "3" }] } }));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "deleted.txt" }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "only-dest.txt", Body: "x" }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: ".migrate-state/runs/r1/run.json", Body: "{}" }));
    const from = `azure://${container.containerName}`;
    const to = `s3://${bucket}`;

    // Act
    const [json, noContent, text] = await Promise.all([
      migrate(["verify", "--from", from, "--to", to, "--json"]),
      migrate(["verify", "--from", from, "--to", to, "--json", "--no-content"]),
      migrate(["verify", "--from", from, "--to", to]),
    ]);

    // Assess
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as Report;
    expect(report.checked).toBe(6);
    expect(report.matched).toBe(1);
    expect(report.missing).toBe(1);
    expect(report.extra).toEqual(["only-dest.txt"]);
    expect(report.archived).toEqual([]);
    const byKey = (r: Report) => Object.fromEntries([...new Set(r.differences.map((d) => d.key))].map((k) => [k, r.differences.filter((d) => d.key === k).map((d) => d.problem)]));
    const found = byKey(report);
    expect(Object.keys(found).sort()).toEqual(["bytes.bin", "deleted.txt", "header.txt", "renamed.txt", "tagged.txt"]);
    expect(found["bytes.bin"]).toHaveLength(1);
    expect(found["bytes.bin"]![0]).toMatch(/^content differs: source bytes md5 \S+, destination bytes md5 \S+$/);
    expect(found["header.txt"]).toEqual(['Content-Type differs: source "text/plain", destination "text/html"']);
    expect(found["tagged.txt"]).toEqual(["tag b differs"]);
    expect(found["deleted.txt"]).toEqual(["missing on destination"]);
    expect(found["renamed.txt"]).toEqual(["metadata name rewritten by server: my_key stored as my-key"]);

    // Without reading bytes, the flipped byte (same size, same md5chksum) goes unseen; the rest does not.
    expect(noContent.code).toBe(1);
    const shallow = byKey(JSON.parse(noContent.stdout) as Report);
    expect(Object.keys(shallow).sort()).toEqual(["deleted.txt", "header.txt", "renamed.txt", "tagged.txt"]);

    expect(text.code).toBe(1);
    const lines = text.stdout.trim().split("\n");
    expect(lines).toContain('difference "deleted.txt": missing on destination');
    expect(lines).toContain('difference "tagged.txt": tag b differs');
    expect(lines).toContain('extra "only-dest.txt": on the destination only');
    expect(lines.at(-1)).toBe("verify: 6 checked, 1 matched, 5 with differences (5 differences, 1 missing), 1 extra, 0 archived");
    expect(lines).toHaveLength(7);
  });

  it("exits 2 naming the flag on a bad location, before any request", async () => {
    const [badFrom, badTo] = await Promise.all([
      migrate(["verify", "--from", "azure://Not_A_Container/x", "--to", "s3://some-bucket"]),
      migrate(["verify", "--from", "azure://some-container", "--to", "https://some-bucket"]),
    ]);
    expect(badFrom.code).toBe(2);
    expect(badFrom.stderr).toMatch(/--from: "Not_A_Container" is not an Azure container name/);
    expect(badFrom.stdout).toBe("");
    expect(badTo.code).toBe(2);
    expect(badTo.stderr).toMatch(/--to must look like s3:\/\/BUCKET/);
  });
});

/** The marker metadata the migrator wrote for a blob, to rewrite an object keeping only its metadata right. */
async function markers(container: ContainerClient, name: string): Promise<Record<string, string>> {
  const props = await container.getBlobClient(name).getProperties();
  const body = await container.getBlobClient(name).downloadToBuffer();
  return {
    md5chksum: props.contentMD5 ? Buffer.from(props.contentMD5).toString("base64") : createHash("md5").update(body).digest("base64"),
    "azure-etag": props.etag!,
    "azure-last-modified": props.lastModified!.toISOString(),
  };
}
