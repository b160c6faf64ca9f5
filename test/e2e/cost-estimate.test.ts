/** The dry run's cost estimate, from the plan and the prices given, said to be an estimate. */
import { describe, it, expect } from "vitest";
import { randomBytes } from "node:crypto";
import { newBucket, newContainer, serverEnv } from "../support/env.ts";
import { runCli } from "../support/cli.ts";
import { upload } from "../reliability/support.ts";
import { CostAccumulator, DEFAULT_PRICES } from "../../shared/coordinator/cost.ts";
import type { RunReport } from "../../shared/state/layout.ts";

const MiB = 1024 * 1024;
const GiB = 1024 ** 3;

describe("cost estimate in the dry run", () => {
  it("counts egress, reads (one per part) and lists, and prices storage by class", { timeout: 90_000 }, async () => {
    const container = await newContainer("cost");
    await upload(container, "hot.bin", randomBytes(1000), { tier: "Hot" });
    await upload(container, "cool.bin", randomBytes(2000), { tier: "Cool" });
    await upload(container, "big.bin", randomBytes(12 * MiB), { tier: "Hot" });
    const bucket = await newBucket("cost");
    const res = await runCli(
      ["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}`, "--dry-run", "--json", "--tier-map", "Cool=ONEZONE_IA", "--price-egress-gib", "0.1", "--price-read-10k", "100", "--price-storage", "STANDARD=2,ONEZONE_IA=1"],
      { ...serverEnv(), MULTIPART_THRESHOLD_MB: "5", PART_SIZE_MB: "5" },
    );
    expect(res.code, res.stderr.slice(-500)).toBe(0);
    const e = (JSON.parse(res.stdout) as RunReport).estimate!;
    const hot = 1000 + 12 * MiB;
    expect(e.note).toMatch(/^estimates/);
    expect(e.azure.readOperations).toBe(1 + 1 + 3);
    expect(e.azure.listOperations).toBe(1);
    expect(e.azure.egressGiB).toBeCloseTo((hot + 2000) / GiB, 4);
    expect(e.azure.readCost).toBe(0.05);
    expect(e.scaleway.storageGiBByClass).toEqual({ STANDARD: Math.round((hot / GiB) * 1e4) / 1e4, ONEZONE_IA: Math.round((2000 / GiB) * 1e4) / 1e4 });
    expect(e.scaleway.monthlyTotal).toBe(Math.round(((hot * 2 + 2000) / GiB) * 100) / 100);
    expect(e.prices).toMatchObject({ egressPerGiB: 0.1, readPer10k: 100, listPer10k: DEFAULT_PRICES.listPer10k, storagePerGiBMonth: { STANDARD: 2, ONEZONE_IA: 1, GLACIER: DEFAULT_PRICES.storagePerGiBMonth.GLACIER } });

    const text = await runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}`, "--dry-run"], serverEnv());
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/estimate \(not a quote\): Azure read-out 0\.01 GiB, 3 reads, 1 lists: about 0\.00 USD/);
  });

  it("prices a terabyte with the default prices", () => {
    const acc = new CostAccumulator({ partSize: 16 * MiB, maxParts: 1000, multipartThreshold: 16 * MiB }, () => "STANDARD");
    acc.add({ name: "x", size: 1024 * GiB, etag: "e", lastModified: "2024-01-01T00:00:00Z", metadata: {}, tags: {} });
    const e = acc.estimate(1, 1000, DEFAULT_PRICES);
    expect(e.azure.egressGiB).toBe(1024);
    expect(e.azure.readOperations).toBe(1000);
    expect(e.azure.egressCost).toBe(Math.round(1024 * DEFAULT_PRICES.egressPerGiB * 100) / 100);
    expect(e.scaleway.monthlyTotal).toBe(Math.round(1024 * DEFAULT_PRICES.storagePerGiBMonth.STANDARD! * 100) / 100);
  });
});
