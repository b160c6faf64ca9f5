/**
 * Storage classes on Ceph RGW (ONEZONE_IA and GLACIER configured in the
 * zonegroup's placement target by scripts/ceph-rgw.sh): --tier-map per Azure
 * tier, --storage-class for the rest, GLACIER refused for an HDS destination.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { randomBytes } from "node:crypto";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import type { ContainerClient } from "@azure/storage-blob";
import { clients, newBucket, newContainer, serverEnv } from "../support/env.ts";
import { runCli } from "../support/cli.ts";
import { upload } from "../reliability/support.ts";

const TUNING = { MULTIPART_THRESHOLD_MB: "5", PART_SIZE_MB: "5" };

describe("storage classes by Azure tier", () => {
  let container: ContainerClient;
  beforeAll(async () => {
    container = await newContainer("tier");
    await upload(container, "hot.bin", randomBytes(1000), { tier: "Hot" });
    await upload(container, "cool.bin", randomBytes(1000), { tier: "Cool" });
    await upload(container, "cool-big.bin", randomBytes(6 * 1024 * 1024 + 1), { tier: "Cool" });
  });
  const classOf = async (bucket: string, key: string) => (await clients.s3().send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).StorageClass ?? "STANDARD";

  it("maps tiers with --tier-map, the rest with --storage-class; refuses GLACIER with --hds", { timeout: 120_000 }, async () => {
    const bucket = await newBucket("tier");
    const base = ["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}`, "--json"];
    const res = await runCli([...base, "--tier-map", "Cool=ONEZONE_IA", "--storage-class", "GLACIER"], { ...serverEnv(), ...TUNING });
    expect(res.code, res.stderr.slice(-600)).toBe(0);
    expect(JSON.parse(res.stdout).warnings).toEqual([]);
    expect(await classOf(bucket, "cool.bin")).toBe("ONEZONE_IA");
    expect(await classOf(bucket, "cool-big.bin")).toBe("ONEZONE_IA");
    expect(await classOf(bucket, "hot.bin")).toBe("GLACIER");

    const hds = await runCli([...base, "--hds", "--storage-class", "GLACIER"], serverEnv());
    expect(hds.code).toBe(2);
    expect(hds.stderr).toMatch(/--hds: --storage-class is GLACIER, a class HDS-certified buckets do not offer/);
    const hdsMap = await runCli([...base, "--hds", "--tier-map", "Cool=GLACIER"], serverEnv());
    expect(hdsMap.code).toBe(2);
    const bad = await runCli([...base, "--tier-map", "Lukewarm=STANDARD"], serverEnv());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/"Lukewarm" is not an Azure access tier/);
  });
});
