import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { execFileSync } from "node:child_process";
import { runTimed } from "../proc.ts";
import { ROOT } from "../tools.ts";
import { GOALS } from "../params.ts";
import { log, results, row } from "../table.ts";

/** Cold start: import each built bundle in a fresh node and answer a malformed message. */
export async function coldStart(): Promise<void> {
  log("building the bundles (npm run build)...");
  execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs"), "--no-measure"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "",
    NODE_ENV: "production",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    // Dummy but valid configuration: nothing is reached for a malformed message.
    AZURE_STORAGE_CONNECTION_STRING: "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=ZHVtbXk=;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;",
    S3_ENDPOINT: "http://127.0.0.1:9",
    S3_REGION: "fr-par",
    S3_ACCESS_KEY_ID: "dummy",
    S3_SECRET_ACCESS_KEY: "dummy-secret",
    S3_FORCE_PATH_STYLE: "true",
    STATE_BUCKET: "bench-state",
    SQS_ENDPOINT: "http://127.0.0.1:9",
    SQS_ACCESS_KEY_ID: "dummy",
    SQS_SECRET_ACCESS_KEY: "dummy-secret",
    WORKER_QUEUE_URLS: "http://127.0.0.1:9/000/worker-0",
    CONTROL_QUEUE_URL: "http://127.0.0.1:9/000/control",
  };
  const out: Record<string, unknown> = {};
  for (const name of ["coordinator", "worker"]) {
    const file = pathToFileURL(join(ROOT, "dist", name, "handler.js")).href;
    const script = [
      "const t0 = performance.now();",
      `const m = await import(${JSON.stringify(file)});`,
      "const t1 = performance.now();",
      'const r = await m.handle({ body: "{not json", headers: { "content-type": "application/json" }, httpMethod: "POST", path: "/", isBase64Encoded: false }, {});',
      "const t2 = performance.now();",
      "console.log(JSON.stringify({ importMs: t1 - t0, handleMs: t2 - t1, status: r.statusCode, sinceStartMs: t2 }));",
    ].join("\n");
    const runs: Array<{ importMs: number; handleMs: number; status: number; sinceStartMs: number; processMs: number }> = [];
    for (let i = 0; i < 5; i++) {
      const r = await runTimed(process.execPath, ["--input-type=module", "-e", script, "bench-cold"], env, { cwd: tmpdir(), timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`cold start of ${name} failed: ${r.stderr.slice(-1000)}`);
      runs.push({ ...JSON.parse(r.stdout.trim().split("\n").at(-1)!), processMs: r.seconds * 1000 });
    }
    const sorted = (k: "importMs" | "handleMs" | "processMs") => runs.map((x) => x[k]).sort((a, b) => a - b);
    const med = (k: "importMs" | "handleMs" | "processMs") => sorted(k)[2]!;
    const status = runs[0]!.status;
    out[name] = { runs, medianImportMs: med("importMs"), medianHandleMs: med("handleMs"), medianProcessMs: med("processMs"), status };
    row({
      section: "cold start",
      what: `${name} bundle: import / handle malformed message (answer ${status}) / whole process`,
      value: `${med("importMs").toFixed(0)} ms / ${med("handleMs").toFixed(0)} ms / ${med("processMs").toFixed(0)} ms (median of 5; import max ${sorted("importMs")[4]!.toFixed(0)} ms)`,
      goal: `import <= ${GOALS.importMs} ms, answer 200`,
      met: med("importMs") <= GOALS.importMs && status === 200,
    });
  }
  results.coldStart = out;
}
