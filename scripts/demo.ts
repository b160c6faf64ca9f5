/**
 * npm run demo: a real migration on embedded local servers, start to finish.
 * Azurite stands in for Azure Blob; Ceph RGW for Scaleway Object Storage where it
 * is installed (scripts/ceph-rgw.sh), s3rver otherwise (no root needed).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { createS3Client } from "../shared/sdk-clients.ts";
import { createBlobServiceClient } from "../shared/azure-sdk-client.ts";
import { DEFAULT_RETRY_POLICY } from "../shared/retry.ts";
import { startAzurite, startRgw, startS3rver, type RunningServer, type S3Server } from "../shared/servers/launch.ts";

// The SDK's notice about future Node versions is noise in a demo.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const MiB = 1024 * 1024;

function hasRgw(): boolean {
  return ["/usr/bin/radosgw", "/usr/bin/ceph-mon", "/usr/bin/ceph-osd"].every((p) => existsSync(p)) && process.env.DEMO_S3 !== "s3rver";
}

function migrate(args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "bin", "migrate.js"), ...args], { stdio: "inherit", env: { ...process.env, ...env } });
    child.on("error", reject);
    child.on("close", (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<number> {
  const servers: RunningServer[] = [];
  const t0 = Date.now();
  try {
    process.stdout.write("starting Azurite and an S3 server...\n");
    const [azurite, s3server] = await Promise.all([startAzurite(), hasRgw() ? startRgw() : startS3rver()]);
    servers.push(azurite, s3server);
    const s3info = s3server as S3Server;
    process.stdout.write(`  Azure Blob (Azurite): ${azurite.endpoint}\n  S3 (${s3info.kind}): ${s3info.endpoint}\n`);

    const container = createBlobServiceClient({ kind: "connection-string", connectionString: azurite.connectionString }, DEFAULT_RETRY_POLICY).getContainerClient("records");
    await container.create();
    const sizes = [...Array.from({ length: 300 }, (_, i) => 256 + ((i * 7919) % (512 * 1024))), 24 * MiB, 40 * MiB + 123, 18 * MiB];
    process.stdout.write(`seeding ${sizes.length} blobs (${(sizes.reduce((a, b) => a + b, 0) / MiB).toFixed(0)} MiB) with metadata, tags and odd names...\n`);
    for (let i = 0; i < sizes.length; i += 25) {
      await Promise.all(
        sizes.slice(i, i + 25).map(async (size, j) => {
          const n = i + j;
          const name = size > 16 * MiB ? `imaging/scan-${n}.dcm` : `patients/${n % 10}/record ${n} é#%.json`;
          const body = randomBytes(size);
          const options = {
            metadata: { source: "demo", index: String(n) },
            tags: { department: n % 2 ? "cardiology" : "radiology" },
            blobHTTPHeaders: { blobContentType: size > 16 * MiB ? "application/dicom" : "application/json" },
          };
          const blob = container.getBlockBlobClient(name);
          if (size > 16 * MiB) await blob.uploadData(body, { ...options, blockSize: 8 * MiB });
          else await blob.upload(body, size, options);
        }),
      );
    }
    const s3 = createS3Client({ endpoint: s3info.endpoint, region: s3info.region, accessKeyId: s3info.accessKeyId, secretAccessKey: s3info.secretAccessKey, forcePathStyle: true, maxSockets: 8 }, DEFAULT_RETRY_POLICY);
    await s3.send(new CreateBucketCommand({ Bucket: "migrated" }));
    s3.destroy();

    const env = {
      AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
      S3_ENDPOINT: s3info.endpoint,
      S3_REGION: s3info.region,
      S3_ACCESS_KEY_ID: s3info.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3info.secretAccessKey,
      S3_FORCE_PATH_STYLE: "true",
    };
    process.stdout.write("\n$ migrate run --from azure://records --to s3://migrated/archive --report demo-report.json\n");
    const reportFile = join(ROOT, "demo-report.json");
    const runCode = await migrate(["run", "--from", "azure://records", "--to", "s3://migrated/archive", "--report", reportFile], env);
    process.stdout.write(`\n$ migrate verify --from azure://records --to s3://migrated/archive\n`);
    const verifyCode = await migrate(["verify", "--from", "azure://records", "--to", "s3://migrated/archive"], env);
    process.stdout.write(`\n$ migrate run ... (again: unchanged data is skipped)\n`);
    const againCode = await migrate(["run", "--from", "azure://records", "--to", "s3://migrated/archive"], env);
    process.stdout.write(`\ndemo finished in ${((Date.now() - t0) / 1000).toFixed(1)} s; report in demo-report.json\n`);
    return runCode || verifyCode || againCode;
  } finally {
    await Promise.allSettled(servers.map((s) => s.stop()));
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
