import { withRetry } from "../../shared/retry.ts";
import { describe, it, expect } from "vitest";
import { ListObjectsV2Command, GetObjectCommand } from "@aws-sdk/client-s3";
import { loadConfig } from "../../shared/config.ts";
import { runLocal } from "../../shared/local/run.ts";
import { startRequest } from "../support/memory-pipeline.ts";
import { clients, newBucket, newContainer, serverEnv } from "../support/env.ts";
import type { ShardManifest } from "../../shared/state/layout.ts";

async function shardsOf(bucket: string, runId: string): Promise<ShardManifest[]> {
  const s3 = clients.s3();
  const out: ShardManifest[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `.migrate-state/runs/${runId}/shards/`, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
      out.push(JSON.parse(await got.Body!.transformToString()));
    }
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

describe("coordinator on Azurite and Ceph RGW", () => {
  it("plans a few thousand blobs with filters into exact shards, the same under a tiny deadline", async () => {
    // Prepare: 1500 empty blobs, a third excluded by the filters.
    const container = await newContainer("plan");
    const names: string[] = [];
    for (let i = 0; i < 1500; i++) names.push(`${i % 3 === 0 ? "logs" : "data"}/${String(i).padStart(5, "0")}.${i % 4 === 0 ? "tmp" : "dat"}`);
    for (let i = 0; i < names.length; i += 250) {
      // Seeding retries transport hiccups of the shared Azurite (the suite's clients have no retry policy).
      await Promise.all(names.slice(i, i + 250).map((n) => withRetry(() => container.getBlockBlobClient(n).upload("", 0), { attempts: 5, baseMs: 100 })));
    }
    const expected = names.filter((n) => !n.startsWith("logs/") && !n.endsWith(".tmp")).sort();
    const bucket = await newBucket("plan");
    const options = { exclude: ["logs/**", "*.tmp"], dryRun: true, shardMaxObjects: 250 };
    // Act: once with a normal deadline, once with a deadline that forces many listing invocations.
    const config = loadConfig({ ...serverEnv(), LIST_PAGE_SIZE: "300" });
    const relaxed = await runLocal({ config, request: startRequest({ runId: "plan-a", container: container.containerName, bucket, options }) });
    // 100 ms an invocation over 75 pages of 20 (a round trip each): more listing than any machine does in two invocations.
    const rushedConfig = { ...config, functionTimeoutMs: 100, deadlineMarginMs: 0, tuning: { ...config.tuning, listPageSize: 20 } };
    const rushed = await runLocal({ config: rushedConfig, request: startRequest({ runId: "plan-b", container: container.containerName, bucket, options }) });
    // Assess
    expect(rushed.durationSeconds).toBeGreaterThan(0);
    for (const [runId, report] of [["plan-a", relaxed], ["plan-b", rushed]] as const) {
      const shards = await shardsOf(bucket, runId);
      const planned = shards.flatMap((s) => s.blobs.map((b) => b.name));
      expect(planned.sort()).toEqual(expected);
      expect(new Set(planned).size).toBe(planned.length);
      expect(shards.every((s) => s.blobs.length <= 250 && s.blobs.length > 0)).toBe(true);
      expect(report.objects).toMatchObject({ planned: expected.length, filteredOut: names.length - expected.length, copied: 0 });
    }
    const cursor = async (runId: string) =>
      JSON.parse(await (await clients.s3().send(new GetObjectCommand({ Bucket: bucket, Key: `.migrate-state/runs/${runId}/listing.json` }))).Body!.transformToString());
    expect((await cursor("plan-a")).invocations).toBe(1);
    expect((await cursor("plan-b")).invocations).toBeGreaterThan(2);
    expect((await shardsOf(bucket, "plan-a")).length).toBe(Math.ceil(expected.length / 250));
  }, 180_000);
});

describe("giant objects on Azurite and Ceph RGW", () => {
  it("copies a giant blob as part ranges in parallel invocations, byte-exact, one upload completed, none left open", async () => {
    const MiB = 1024 * 1024;
    const container = await newContainer("giant");
    const body = Buffer.alloc(22 * MiB + 3);
    for (let i = 0; i + 4 <= body.length; i += 4096) body.writeUInt32LE((i * 2654435761) >>> 0, i);
    await container.getBlockBlobClient("scans/huge.dcm").uploadData(body, { blockSize: 4 * MiB, metadata: { modality: "ct" }, tags: { dept: "radiology" } });
    const bucket = await newBucket("giant");
    const base = loadConfig(serverEnv());
    const config = { ...base, tuning: { ...base.tuning, multipartThreshold: 5 * MiB, partSize: 5 * MiB, giantObjectThreshold: 10 * MiB, giantRangeBytes: 10 * MiB } };
    const report = await runLocal({ config, request: startRequest({ runId: "giant", container: container.containerName, bucket }) });
    expect(report.objects).toMatchObject({ planned: 1, copied: 1, failed: 0 });
    const s3 = clients.s3();
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "scans/huge.dcm" }));
    const back = Buffer.from(await got.Body!.transformToByteArray());
    expect(back.equals(body)).toBe(true);
    expect(got.Metadata?.modality).toBe("ct");
    expect(got.ETag).toMatch(/-5"$/);
    const ranges = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: ".migrate-state/runs/giant/giants/" }));
    expect((ranges.Contents ?? []).filter((o) => o.Key!.includes("/ranges/"))).toHaveLength(3);
    const { ListMultipartUploadsCommand } = await import("@aws-sdk/client-s3");
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toHaveLength(0);
  });
});
