/**
 * At-least-once delivery on the real servers: every queue message delivered
 * twice, in random order, gives the same result as a clean run.
 */
import { describe, it, expect, beforeAll } from "vitest";
import type { ContainerClient } from "@azure/storage-blob";
import { loadConfig } from "../../shared/config.ts";
import { runLocal } from "../../shared/local/run.ts";
import { parseMessage, StartRequest } from "../../shared/messages.ts";
import type { RunReport } from "../../shared/state/layout.ts";
import { newBucket, newContainer, serverEnv } from "../support/env.ts";
import { destinationDigests, duplicates, ledgerOf, openUploads, SMALL_PARTS, seedCorpus } from "./support.ts";

function request(container: string, bucket: string, runId: string) {
  return parseMessage(StartRequest, {
    v: 1,
    type: "start",
    runId,
    source: { container, prefix: "" },
    destination: { bucket, prefix: "" },
    options: { shardMaxObjects: 6, concurrency: 4 },
  });
}

function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** What must not depend on delivery: counts, and per key its outcome and MD5. */
function essentials(report: RunReport) {
  return { objects: report.objects, bytes: report.bytes, failures: report.failures, shards: report.shards, status: report.status };
}

describe("every message delivered twice, in random order", () => {
  let container: ContainerClient;
  let size = 0;

  beforeAll(async () => {
    container = await newContainer("dup");
    size = (await seedCorpus(container, 60, 2)).size;
  });

  it("gives the same report, destination and ledger as a clean run", { timeout: 120_000 }, async () => {
    const config = loadConfig({ ...serverEnv(), ...SMALL_PARTS });
    const cleanBucket = await newBucket("dupclean");
    const dupBucket = await newBucket("dupdup");

    const clean = await runLocal({ config, request: request(container.containerName, cleanBucket, "clean") });
    let deliveries = 0;
    let sends = 0;
    const twice = await runLocal({
      config,
      request: request(container.containerName, dupBucket, "twice"),
      deliveryFilter: (_target, bodies) => {
        sends++;
        const out = shuffle([...bodies, ...bodies]);
        deliveries += out.length;
        return out;
      },
    });

    expect(clean.objects).toMatchObject({ planned: size, copied: size, failed: 0 });
    expect(essentials(twice)).toEqual(essentials(clean));
    expect(sends).toBeGreaterThan(10);
    expect(deliveries).toBeGreaterThanOrEqual(2 * sends);

    const [a, b] = await Promise.all([destinationDigests(cleanBucket), destinationDigests(dupBucket)]);
    expect(a.size).toBe(size);
    expect(Object.fromEntries(b)).toEqual(Object.fromEntries(a));

    const byKey = (l: Awaited<ReturnType<typeof ledgerOf>>) => l.map((e) => ({ key: e.key, outcome: e.outcome, md5: e.md5, size: e.size })).sort((x, y) => x.key.localeCompare(y.key));
    const [cleanLedger, dupLedger] = await Promise.all([ledgerOf(cleanBucket, "clean"), ledgerOf(dupBucket, "twice")]);
    expect(duplicates(dupLedger.map((e) => e.key))).toEqual([]);
    expect(byKey(dupLedger)).toEqual(byKey(cleanLedger));
    expect(await openUploads(dupBucket)).toEqual([]);
  });
});
