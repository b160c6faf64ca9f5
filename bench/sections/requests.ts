import { deletePrefix, uploadSmallBlobs } from "../corpus.ts";
import { classifyAzure, classifyS3, startCountProxy, type RequestCounts } from "../count-proxy.ts";
import { migrateEnv, runMigrate, type Endpoints } from "../tools.ts";
import { P } from "../params.ts";
import { results, row } from "../table.ts";
import { type Ctx } from "../context.ts";

/** Source and destination requests per object through counting proxies: a copy of small blobs, then a re-run over the unchanged data. */
export async function requestCounts(ctx: Ctx): Promise<void> {
  const c = ctx.blob.getContainerClient(ctx.container);
  await uploadSmallBlobs(c, "requests/", P.requestBlobs, P.smallBytes);
  const az = await startCountProxy(`http://127.0.0.1:${new URL(ctx.azurite.endpoint).port}`);
  const s3p = await startCountProxy(ctx.rgw.endpoint);
  try {
    const endpoints: Endpoints = {
      ...ctx.endpoints,
      connectionString: ctx.azurite.connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=${az.endpoint}/${ctx.azurite.account}`),
      s3Endpoint: s3p.endpoint,
    };
    const out: Record<string, unknown> = {};
    const dest = `requests-${Date.now()}/`;
    for (const pass of ["first copy", "re-run over unchanged data"]) {
      az.reset();
      s3p.reset();
      const m = await runMigrate(`${ctx.container}/requests/`, `${ctx.bucket}/${dest}`, migrateEnv(endpoints), ["--run-id", `bench-req-${Date.now()}`]);
      if (m.code !== 0) throw new Error(`request count run (${pass}) failed: exit ${m.code} ${m.stderr.slice(-500)}`);
      const a: RequestCounts = classifyAzure(az.seen);
      const s: RequestCounts = classifyS3(s3p.seen, `/${ctx.stateBucket}`);
      const stateRequests = Object.entries(s.byKind).filter(([k]) => k.startsWith("state ") || k === "HEAD").reduce((x, [, n]) => x + n, 0);
      const n = P.requestBlobs;
      out[pass] = { objects: m.report.objects, azure: a, s3: s };
      const fmt = (r: RequestCounts) => Object.entries(r.byKind).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v}`).join(", ");
      row({ section: "requests", what: `${pass}, ${n} x ${P.smallBytes / 1024} KiB (copied ${m.report.objects.copied}, skipped ${m.report.objects.skipped}): Azure per object`, value: `${(a.total / n).toFixed(2)} (${fmt(a)})` });
      row({ section: "requests", what: `${pass}: S3 per object (data and run state)`, value: `${(s.total / n).toFixed(2)}, of which run state ${((stateRequests) / n).toFixed(2)} (${fmt(s)})` });
      if (pass !== "first copy") {
        row({ section: "requests", what: "re-run: object reads from Azure (GETs of blob data) / their body bytes", value: `${a.objectReads} / ${a.objectReadBytes} bytes`, goal: "0 bytes", met: a.objectReadBytes === 0 && a.objectReads === 0 });
      }
    }
    await deletePrefix(ctx.s3, ctx.bucket, dest);
    results.requests = out;
  } finally {
    await az.stop();
    await s3p.stop();
  }
}
