/**
 * Crash anywhere: the local run is killed (SIGKILL) at chosen moments (during
 * listing, with a part uploaded, after an object is complete but before its
 * shard's result is written, at a random time), then resumed with the same
 * run id: the destination ends identical to the source, no key twice in the
 * ledger, no open multipart upload, report succeeded.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { inject } from "vitest";
import { HeadObjectCommand, ListMultipartUploadsCommand, ListPartsCommand } from "@aws-sdk/client-s3";
import type { ContainerClient } from "@azure/storage-blob";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { runCli } from "../support/cli.ts";
import { clients, newBucket, newContainer, serverEnv } from "../support/env.ts";
import { destinationDigests, duplicates, getText, ledgerOf, listKeys, md5, openUploads, SMALL_PARTS, seedCorpus } from "./support.ts";
import type { ListingCursor, RunReport } from "../../shared/state/layout.ts";

type Moment = (bucket: string, runId: string, started: number) => Promise<boolean>;

const state = (runId: string) => `.migrate-state/runs/${runId}/`;

const MOMENTS: Record<string, Moment> = {
  "during listing": async (bucket, runId) => {
    const body = await getText(clients.s3(), bucket, `${state(runId)}listing.json`).catch(() => undefined);
    if (!body) return false;
    const cursor = JSON.parse(body) as ListingCursor;
    return !cursor.done && cursor.nextShardIndex >= 2;
  },
  "with a part uploaded": async (bucket) => {
    const s3 = clients.s3();
    const open = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    for (const u of open.Uploads ?? []) {
      const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! })).catch(() => undefined);
      if ((parts?.Parts ?? []).length > 0) return true;
    }
    return false;
  },
  "after an upload completed, before its result": async (bucket, runId) => {
    // The large blobs are the first of shard s-000000; its result PUT is held 3 s by the proxy.
    const head = await clients.s3().send(new HeadObjectCommand({ Bucket: bucket, Key: LARGE_KEY })).catch(() => undefined);
    if (!head) return false;
    return !(await listKeys(clients.s3(), bucket, `${state(runId)}results/s-000000.json`)).length;
  },
  "at a random time": async (_bucket, _runId, started) => Date.now() - started > RANDOM_MS,
};

const RANDOM_MS = 700 + Math.floor(Math.random() * 2500);
let LARGE_KEY = "";

describe("crash and resume", () => {
  let container: ContainerClient;
  let bodies: Map<string, Buffer>;
  let proxy: FaultProxy;

  beforeAll(async () => {
    container = await newContainer("crash");
    bodies = await seedCorpus(container, 30, 2);
    LARGE_KEY = [...bodies.keys()][0]!;
    // Slows the killed runs down so that each moment lasts long enough to be caught.
    proxy = await startFaultProxy({
      target: inject("rgw").endpoint,
      seed: 5,
      rules: [
        { fault: { kind: "delay", ms: 3000 }, methods: ["PUT"], path: /results%2F|results\// },
        // The last part of each upload waits, so an upload with a part stored lasts a while.
        { fault: { kind: "delay", ms: 1500 }, methods: ["PUT"], path: /partNumber=2(&|$)/ },
        { fault: { kind: "delay", ms: 150 }, methods: ["PUT", "POST"], rate: 0.5 },
      ],
    });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it("ends identical to the source after a SIGKILL at each moment", { timeout: 170_000 }, async () => {
    const trials: string[] = [];
    for (const [moment, reached] of Object.entries(MOMENTS)) {
      const bucket = await newBucket("crash");
      const runId = `crash-${trials.length}`;
      const args = ["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}`, "--run-id", runId, "--json", "--shard-objects", "5", "--concurrency", "2"];
      const env = { ...serverEnv(), ...SMALL_PARTS, LIST_PAGE_SIZE: "5", PART_CONCURRENCY: "1" };

      let pid = 0;
      let killedAt: string | undefined;
      const started = Date.now();
      const killed = runCli(args, { ...env, S3_ENDPOINT: proxy.endpoint }, { onSpawn: (p) => (pid = p), timeoutMs: 60_000 });
      let done = false;
      void killed.finally(() => (done = true));
      while (!done) {
        if (await reached(bucket, runId, started).catch(() => false)) {
          process.kill(pid, "SIGKILL");
          killedAt = `${Date.now() - started} ms`;
          break;
        }
        await new Promise((r) => setTimeout(r, 40));
      }
      const first = await killed;
      expect(first.signal, `${moment}: the run ended before the moment was reached (exit ${first.code})`).toBe("SIGKILL");
      trials.push(`${moment} at ${killedAt}`);

      const resumed = await runCli(args, env, { timeoutMs: 90_000 });
      expect(resumed.code, `${moment}: ${resumed.stderr.slice(-600)}`).toBe(0);
      const report = JSON.parse(resumed.stdout) as RunReport;
      expect(report.status, moment).toBe("succeeded");
      expect(report.objects.planned, moment).toBe(bodies.size);
      expect(report.objects.copied + report.objects.skipped, moment).toBe(bodies.size);

      const digests = await destinationDigests(bucket);
      expect([...digests.keys()].sort(), moment).toEqual([...bodies.keys()].sort());
      for (const [name, body] of bodies) expect(digests.get(name), `${moment}: ${name}`).toBe(md5(body));
      const ledger = await ledgerOf(bucket, runId);
      expect(ledger, moment).toHaveLength(bodies.size);
      expect(duplicates(ledger.map((e) => e.key)), moment).toEqual([]);
      expect(await openUploads(bucket), moment).toEqual([]);
    }
    expect(trials).toHaveLength(Object.keys(MOMENTS).length);
  });
});
