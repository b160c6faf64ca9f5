import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { startRgw } from "/work/wt-scale/shared/servers/launch.ts";
import { createS3Client } from "/work/wt-scale/shared/clients.ts";
import { startListServer } from "/work/wt-scale/bench/list-server.ts";
import { runTimed } from "/work/wt-scale/bench/proc.ts";
const count = Number(process.env.N ?? 100000);
const rgw = await startRgw({ dir: mkdtempSync(join(tmpdir(), "plan-ceph-")) });
const s3 = createS3Client({ endpoint: rgw.endpoint, region: rgw.region, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, forcePathStyle: true }, undefined);
await s3.send(new CreateBucketCommand({ Bucket: "plan" }));
const server = await startListServer({ container: "plan-src", prefix: "p/", count });
const variants = (process.env.VARIANTS ?? "").split(";").map((v) => v.trim()).filter(Boolean);
if (variants.length === 0) variants.push("");
try {
  for (const v of variants) {
    const [flags, extraEnv] = v.split("|");
    const env: Record<string, string> = { PATH: process.env.PATH!, HOME: "/tmp", AZURE_STORAGE_CONNECTION_STRING: server.connectionString, S3_ENDPOINT: rgw.endpoint, S3_REGION: rgw.region, S3_ACCESS_KEY_ID: rgw.accessKeyId, S3_SECRET_ACCESS_KEY: rgw.secretAccessKey, S3_FORCE_PATH_STYLE: "true", STATE_BUCKET: "plan" };
    for (const kv of (extraEnv ?? "").split(" ").filter(Boolean)) { const [k, ...r] = kv.split("="); env[k!] = r.join("="); }
    const args = [...(flags ?? "").split(" ").filter(Boolean), "/work/wt-scale/bin/migrate.js", "run", "--from", "azure://plan-src", "--to", "s3://plan/x/", "--json", "--dry-run", "--run-id", `p-${Date.now()}`];
    const r = await runTimed(process.execPath, args, env, { cwd: "/work/wt-scale" });
    if (r.code !== 0) console.log(r.stderr.slice(-1500));
    let planned = "?";
    try { planned = JSON.parse(r.stdout).objects.planned; } catch {}
    console.log(`[${v}] exit ${r.code} planned ${planned}: ${r.seconds.toFixed(1)} s, ${r.maxRssMiB.toFixed(0)} MiB, cpu ${(r.userSeconds + r.sysSeconds).toFixed(1)}; ${r.stderr.split("\n").filter((l) => /MEM|heap/.test(l)).slice(-20).join("\n")}`);
  }
} finally {
  await server.stop();
  await rgw.stop();
  s3.destroy();
}
