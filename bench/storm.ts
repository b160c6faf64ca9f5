/**
 * `npm run bench:storm`: the same migration clean and through a throttling
 * storm (30% 503 SlowDown / ServerBusy and 5% cut connections on both sides,
 * from the first request, fixed seeds), on fresh local servers. Prints the
 * time of each, the ratio, the faults injected, and whether the stormy run
 * ended exact with no open upload. Figures, never assertions.
 *
 *   STORM_SMALL=300 STORM_LARGE=4 STORM_LARGE_MB=24 STORM_RUNS=2
 */
import { CreateBucketCommand, ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { createS3Client } from "../shared/sdk-clients.ts";
import { createBlobServiceClient } from "../shared/azure-sdk-client.ts";
import { DEFAULT_RETRY_POLICY } from "../shared/retry.ts";
import { startAzurite, startRgw } from "../shared/servers/launch.ts";
import { MiB } from "../shared/limits.ts";
import { startFaultProxy, type FaultRule } from "../test/support/fault-proxy.ts";
import { listAll, uploadLargeBlob, uploadSmallBlobs } from "./corpus.ts";
import { migrateEnv, runMigrate } from "./tools.ts";

const n = (name: string, d: number) => (process.env[name] ? Number(process.env[name]) : d);
const SMALL = n("STORM_SMALL", 300);
const LARGE = n("STORM_LARGE", 4);
const LARGE_MB = n("STORM_LARGE_MB", 24);
const RUNS = n("STORM_RUNS", 2);

const STORM: FaultRule[] = [
  { fault: { kind: "slow-down" }, rate: 0.3 },
  { fault: { kind: "reset-request" }, rate: 0.025 },
  { fault: { kind: "reset-response" }, rate: 0.025 },
];

async function main() {
  const [azurite, rgw] = await Promise.all([startAzurite(), startRgw()]);
  try {
    const blob = createBlobServiceClient({ kind: "connection-string", connectionString: azurite.connectionString }, DEFAULT_RETRY_POLICY);
    const container = blob.getContainerClient("storm");
    await container.create();
    await uploadSmallBlobs(container, "small/", SMALL, 16 * 1024);
    for (let i = 0; i < LARGE; i++) await uploadLargeBlob(container, `large/${i}.bin`, LARGE_MB * MiB + i);
    const s3 = createS3Client({ endpoint: rgw.endpoint, region: rgw.region, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, forcePathStyle: true, maxSockets: 16 }, DEFAULT_RETRY_POLICY);
    const state = "storm-state";
    await s3.send(new CreateBucketCommand({ Bucket: state }));
    console.log(`corpus: ${SMALL} x 16 KiB + ${LARGE} x ${LARGE_MB} MiB; ${RUNS} run(s) each; storm: 30% 503, 2.5% requests cut, 2.5% answers cut, both sides`);
    const rows: Array<{ run: number; clean: number; storm: number; exact: boolean; open: number; faults: string }> = [];
    for (let run = 1; run <= RUNS; run++) {
      const cleanBucket = `clean-${run}`;
      const stormBucket = `storm-${run}`;
      await s3.send(new CreateBucketCommand({ Bucket: cleanBucket }));
      await s3.send(new CreateBucketCommand({ Bucket: stormBucket }));
      const clean = await runMigrate("storm", cleanBucket, migrateEnv({ connectionString: azurite.connectionString, s3Endpoint: rgw.endpoint, rgw, stateBucket: state }), ["--run-id", `clean-${run}`]);
      const azureProxy = await startFaultProxy({ target: new URL(azurite.endpoint).origin, rules: STORM, seed: 100 + run, flavour: "azure" });
      const s3Proxy = await startFaultProxy({ target: rgw.endpoint, rules: STORM, seed: 200 + run, flavour: "s3" });
      const stormy = await runMigrate(
        "storm",
        stormBucket,
        migrateEnv({ connectionString: azurite.connectionString.replace(/BlobEndpoint=http:\/\/[^/;]+/, `BlobEndpoint=${azureProxy.endpoint}`), s3Endpoint: s3Proxy.endpoint, rgw, stateBucket: state }),
        ["--run-id", `storm-${run}`],
      );
      await azureProxy.stop();
      await s3Proxy.stop();
      const a = await listAll(s3, cleanBucket, "");
      const b = await listAll(s3, stormBucket, "");
      const exact = stormy.code === 0 && a.length === b.length && a.every((o, i) => b[i]?.key === o.key && b[i]?.size === o.size) && stormy.report.objects.copied === SMALL + LARGE;
      const open = (await s3.send(new ListMultipartUploadsCommand({ Bucket: stormBucket }))).Uploads?.length ?? 0;
      const f = (p: typeof s3Proxy) => `${p.stats.requests} req, ${p.stats.faults["slow-down"]} x 503, ${p.stats.faults["reset-request"] + p.stats.faults["reset-response"]} cut`;
      rows.push({ run, clean: clean.seconds, storm: stormy.seconds, exact, open, faults: `azure ${f(azureProxy)}; s3 ${f(s3Proxy)}` });
      console.log(`run ${run}: clean ${clean.seconds.toFixed(1)} s (exit ${clean.code}), storm ${stormy.seconds.toFixed(1)} s (exit ${stormy.code}), ${(stormy.seconds / clean.seconds).toFixed(2)}x; exact ${exact}; open uploads ${open}; ${rows.at(-1)!.faults}`);
    }
    const best = (k: "clean" | "storm") => Math.min(...rows.map((r) => r[k]));
    console.log(`\nbest clean ${best("clean").toFixed(1)} s, best storm ${best("storm").toFixed(1)} s: storm/clean ${(best("storm") / best("clean")).toFixed(2)}x (goal < 3x); all exact: ${rows.every((r) => r.exact)}; open uploads: ${rows.reduce((s, r) => s + r.open, 0)}`);
    s3.destroy();
  } finally {
    await Promise.allSettled([azurite.stop(), rgw.stop()]);
  }
}

await main();
