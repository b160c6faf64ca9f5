import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { inject } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { BlobServiceClient, ContainerClient } from "@azure/storage-blob";
import { createS3Client } from "../../shared/sdk-clients.ts";
import { createBlobServiceClient } from "../../shared/azure-sdk-client.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { clients, newBucket, newContainer, s3Config } from "../support/env.ts";

const md5 = (b: Buffer | Uint8Array) => createHash("md5").update(b).digest("hex");
const KEY = "dir/odd name %#?+é😀//x.bin";
const SEEDED = "seeded.bin";

/** Network errors as Node and the SDKs surface a cut connection. */
const NETWORK = /ECONNRESET|socket hang up|aborted|premature close|terminated|other side closed|EPIPE/i;
function networkError(err: unknown): string {
  const e = err as Error & { code?: string; cause?: { code?: string } };
  return [e.name, e.code, e.message, e.cause?.code].filter(Boolean).join(" ");
}

describe("fault proxy in front of Ceph RGW (S3, path style, SigV4)", () => {
  let proxy: FaultProxy;
  let s3: S3Client;
  let bucket: string;
  const body = randomBytes(1024 * 1024 + 5);

  beforeAll(async () => {
    proxy = await startFaultProxy({ target: s3Config().endpoint, seed: 7 });
    s3 = createS3Client({ ...s3Config(), endpoint: proxy.endpoint }, undefined);
    bucket = await newBucket("proxy");
    // Seeded without the proxy, so each test stands alone.
    await clients.s3().send(new PutObjectCommand({ Bucket: bucket, Key: SEEDED, Body: body, ContentLength: body.length }));
  });
  afterAll(async () => {
    s3?.destroy();
    await proxy?.stop();
  });

  it("round-trips bytes with signatures still valid, odd key included", async () => {
    proxy.setRules([]);
    const before = proxy.stats.forwarded;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: KEY, Body: body, ContentLength: body.length, ContentMD5: createHash("md5").update(body).digest("base64"), Metadata: { a: "1" } }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: KEY }));
    const back = Buffer.from(await got.Body!.transformToByteArray());
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));

    expect(back.length).toBe(body.length);
    expect(md5(back)).toBe(md5(body));
    expect(got.Metadata).toEqual({ a: "1" });
    expect(listed.Contents?.map((o) => o.Key)).toContain(KEY);
    expect(proxy.stats.forwarded - before).toBe(3);
    // The proxy did not take liberties: the object is the same seen without it.
    const direct = await clients.s3().send(new HeadObjectCommand({ Bucket: bucket, Key: KEY }));
    expect(direct.ETag).toBe(got.ETag);
  });

  it("answers an injected 503 as SlowDown, a 429 and a 500 as S3 writes them, then recovers", async () => {
    proxy.setRules([
      { fault: { kind: "slow-down" }, methods: ["PUT"], count: 1 },
      { fault: { kind: "too-many-requests" }, methods: ["GET"], count: 1 },
      { fault: { kind: "internal-error" }, methods: ["GET"], count: 1 },
    ]);
    const faultsBefore = { ...proxy.stats.faults };
    const put = await s3
      .send(new PutObjectCommand({ Bucket: bucket, Key: "refused.bin", Body: body, ContentLength: body.length }))
      .catch((e: unknown) => e as Error & { $metadata?: { httpStatusCode?: number } });
    const get1 = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: SEEDED })).catch((e: unknown) => e as Error & { $metadata?: { httpStatusCode?: number } });
    const get2 = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: SEEDED })).catch((e: unknown) => e as Error & { $metadata?: { httpStatusCode?: number } });
    const get3 = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: SEEDED }));

    expect(put).toBeInstanceOf(Error);
    expect((put as Error).name).toBe("SlowDown");
    expect((put as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(503);
    expect((get1 as Error).name).toBe("TooManyRequests");
    expect((get1 as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(429);
    expect((get2 as Error).name).toBe("InternalError");
    expect((get2 as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(500);
    expect(md5(Buffer.from(await get3.Body!.transformToByteArray()))).toBe(md5(body));
    expect(proxy.stats.faults["slow-down"] - faultsBefore["slow-down"]).toBe(1);
    expect(proxy.stats.faults["too-many-requests"] - faultsBefore["too-many-requests"]).toBe(1);
    expect(proxy.stats.faults["internal-error"] - faultsBefore["internal-error"]).toBe(1);
    // The refused PUT never reached the server.
    const head = await clients.s3().send(new HeadObjectCommand({ Bucket: bucket, Key: "refused.bin" })).catch((e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode);
    expect(head).toBe(404);
  });

  it("cuts a response in the middle of its body and a request in the middle of its body", async () => {
    proxy.setRules([
      { fault: { kind: "reset-response" }, methods: ["GET"], count: 1 },
      { fault: { kind: "reset-request" }, methods: ["PUT"], count: 1 },
    ]);
    // Response: the headers arrive, the body stops halfway.
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: SEEDED }));
    expect(got.ContentLength).toBe(body.length);
    const read = await got.Body!.transformToByteArray().then(
      (b) => new Error(`read ${b.length} of ${body.length} bytes without an error`),
      (e: unknown) => e,
    );
    expect(networkError(read)).toMatch(NETWORK);
    // Request: half the upload reaches the server, then the connection drops; nothing is stored.
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "cut.bin", Body: body, ContentLength: body.length })).then(
      () => new Error("upload succeeded"),
      (e: unknown) => e,
    );
    expect(networkError(put)).toMatch(NETWORK);
    const head = await clients.s3().send(new HeadObjectCommand({ Bucket: bucket, Key: "cut.bin" })).catch((e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode);
    expect(head).toBe(404);
    expect(proxy.stats.faults["reset-response"]).toBe(1);
    expect(proxy.stats.faults["reset-request"]).toBe(1);
  });

  it("delays matching requests only, and picks the same requests for the same seed", async () => {
    proxy.setRules([{ fault: { kind: "delay", ms: 400 }, methods: ["HEAD"], count: 1 }]);
    const forwarded = proxy.stats.forwarded;
    await s3.send(new GetObjectCommand({ Bucket: bucket, Key: SEEDED })).then((r) => r.Body!.transformToByteArray());
    const t = Date.now();
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: SEEDED }));
    expect(Date.now() - t).toBeGreaterThanOrEqual(400);
    expect(head.ContentLength).toBe(body.length);
    // Only the HEAD matched: one delay injected, both requests forwarded.
    expect(proxy.stats.faults.delay).toBe(1);
    expect(proxy.stats.forwarded - forwarded).toBe(2);

    const pattern = async (seed: number) => {
      const p = await startFaultProxy({ target: s3Config().endpoint, seed, rules: [{ fault: { kind: "slow-down" }, rate: 0.5, path: /list-type=2/ }] });
      const c = createS3Client({ ...s3Config(), endpoint: p.endpoint }, undefined);
      try {
        const hits: boolean[] = [];
        for (let i = 0; i < 16; i++) {
          hits.push(await c.send(new ListObjectsV2Command({ Bucket: bucket })).then(() => false, (e: Error) => e.name === "SlowDown"));
        }
        // Requests outside the path filter are never hit.
        await c.send(new HeadObjectCommand({ Bucket: bucket, Key: SEEDED }));
        expect(p.stats.faults["slow-down"]).toBe(hits.filter(Boolean).length);
        expect(p.stats.requests).toBe(17);
        return hits;
      } finally {
        c.destroy();
        await p.stop();
      }
    };
    const [a, b, other] = [await pattern(42), await pattern(42), await pattern(43)];
    expect(a).toEqual(b);
    expect(a).not.toEqual(other);
    expect(a.filter(Boolean).length).toBeGreaterThan(2);
    expect(a.filter(Boolean).length).toBeLessThan(14);
  });
});

describe("fault proxy in front of Azurite (account in the path, SharedKey)", () => {
  let proxy: FaultProxy;
  let blob: BlobServiceClient;
  let container: ContainerClient;
  const body = randomBytes(1024 * 1024 + 3);

  beforeAll(async () => {
    const { connectionString, endpoint } = inject("azurite");
    proxy = await startFaultProxy({ target: new URL(endpoint).origin, seed: 7 });
    blob = createBlobServiceClient({ kind: "connection-string", connectionString: connectionString.replace(new URL(endpoint).origin, proxy.endpoint) }, undefined);
    const direct = await newContainer("proxy");
    // Seeded without the proxy, so each test stands alone.
    await direct.getBlockBlobClient(SEEDED).upload(body, body.length);
    container = blob.getContainerClient(direct.containerName);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it("round-trips bytes, metadata and tags with SharedKey signatures still valid", async () => {
    proxy.setRules([]);
    const client = container.getBlockBlobClient(KEY);
    await client.upload(body, body.length, { metadata: { project: "hdh" }, tags: { tier: "gold" } });
    const back = await client.downloadToBuffer();
    const listed = [];
    for await (const item of container.listBlobsFlat({ includeMetadata: true, includeTags: true })) listed.push(item);

    expect(md5(back)).toBe(md5(body));
    expect(listed.filter((i) => i.name === KEY).map((i) => [i.metadata, i.tags])).toEqual([[{ project: "hdh" }, { tier: "gold" }]]);
    expect(proxy.stats.forwarded).toBeGreaterThanOrEqual(3);
    expect(Object.values(proxy.stats.faults).every((n) => n === 0)).toBe(true);
  });

  it("answers an injected 503 as ServerBusy and a 500 as InternalError, then recovers", async () => {
    proxy.setRules([
      { fault: { kind: "slow-down" }, methods: ["GET"], count: 1 },
      { fault: { kind: "internal-error" }, methods: ["PUT"], count: 1 },
    ]);
    const client = container.getBlockBlobClient(SEEDED);
    const busy = await client.download().catch((e: unknown) => e as Error & { statusCode?: number; code?: string });
    const failed = await container
      .getBlockBlobClient("other.bin")
      .upload(body, body.length)
      .catch((e: unknown) => e as Error & { statusCode?: number; code?: string });
    const back = await client.downloadToBuffer();

    expect(busy).toBeInstanceOf(Error);
    expect((busy as { statusCode?: number }).statusCode).toBe(503);
    expect((busy as { code?: string }).code).toBe("ServerBusy");
    expect((failed as { statusCode?: number }).statusCode).toBe(500);
    expect((failed as { code?: string }).code).toBe("InternalError");
    expect(md5(back)).toBe(md5(body));
    expect(await clients.blob().getContainerClient(container.containerName).getBlobClient("other.bin").exists()).toBe(false);
    expect(proxy.stats.faults["slow-down"]).toBe(1);
    expect(proxy.stats.faults["internal-error"]).toBe(1);
  });

  it("cuts a download in the middle of its body; a ranged read from the last byte received completes it", async () => {
    proxy.setRules([{ fault: { kind: "reset-response" }, methods: ["GET"], count: 1 }]);
    const client = container.getBlockBlobClient(SEEDED);
    // With @azure/storage-blob 12.32 on Node 20 the cut surfaces as AbortError ("The operation was
    // aborted.") even with the SDK's stream retries on: callers must resume the read themselves, and
    // tell this AbortError from one caused by their own signal.
    const res = await client.download(0, undefined, { maxRetryRequests: 5 });
    const chunks: Buffer[] = [];
    const err = await (async () => {
      for await (const c of res.readableStreamBody!) chunks.push(c as Buffer);
    })().then(
      () => new Error("read the whole body without an error"),
      (e: unknown) => e,
    );
    expect(networkError(err)).toMatch(NETWORK);
    const received = Buffer.concat(chunks);
    expect(received.length).toBeLessThan(body.length);
    expect(received.length).toBeGreaterThan(0);

    const rest = await client.downloadToBuffer(received.length);
    expect(md5(Buffer.concat([received, rest]))).toBe(md5(body));
    expect(proxy.stats.faults["reset-response"]).toBe(1);
  });
});
