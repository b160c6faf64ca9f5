#!/usr/bin/env node
/**
 * Builds one self-contained ESM bundle per deployed function:
 *   functions/<name>/handler.ts  ->  dist/<name>/handler.js
 * The Node runtime on Scaleway Functions does not run `npm install`, so the
 * bundles carry every dependency; `package.patterns` in serverless.yml ships
 * only dist/. Fails when a bundle is over the size budget or does not load (an import over its time goal is a warning), or
 * does not export `handle`.
 *
 *   node scripts/build.mjs                 build, report sizes and import times
 *   node scripts/build.mjs --no-measure    build and report sizes only
 */
import { build } from "esbuild";
import { spawn } from "node:child_process";
import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = join(ROOT, "dist");
export const FUNCTIONS = ["coordinator", "worker"];
/**
 * Per-bundle budget: a small zip uploads fast and a small bundle starts fast.
 * Entra ID sign-in (@azure/identity and MSAL, about 0.25 MB minified) took it from 1.5 to 1.75 MB.
 */
export const MAX_BUNDLE_BYTES = 1.75 * 1024 * 1024;
/** Import time above this is reported as a failure: cold starts pay it on every new instance. */
const MAX_IMPORT_MS = 1000;
const IMPORT_RUNS = 3;

/**
 * The Azure SDK (and a few other CommonJS dependencies) call `require` for Node
 * built-ins; an ESM bundle has no `require`, so provide one.
 */
// CommonJS dependencies bundled into ESM still reach for require, __filename and __dirname
// (@azure/identity's optional browser opener joins __dirname when it loads).
const BANNER =
  'import { createRequire } from "module"; import { fileURLToPath as __migrateFileUrl } from "url"; import { dirname as __migrateDirname } from "path"; ' +
  "const require = createRequire(import.meta.url); const __filename = __migrateFileUrl(import.meta.url); const __dirname = __migrateDirname(__filename);";

function formatBytes(n) {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MB` : `${(n / 1024).toFixed(1)} KB`;
}

/** esbuild options of one function bundle. */
export function bundleOptions(entry, outfile) {
  return {
    absWorkingDir: ROOT,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    minify: true,
    treeShaking: true,
    sourcemap: false,
    legalComments: "none",
    banner: { js: BANNER },
    // The version a function answers a ping with (shared/version.ts).
    define: { __MIGRATE_VERSION__: JSON.stringify(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version) },
    // Prefer packages' ES module builds: they tree-shake (the AWS SDK's CommonJS builds do not).
    mainFields: ["module", "main"],
    metafile: true,
    logLevel: "warning",
  };
}

async function bundle(name) {
  const outfile = join(DIST, name, "handler.js");
  const result = await build(bundleOptions(join(ROOT, "functions", name, "handler.ts"), outfile));
  const bytes = (await stat(outfile)).size;
  const gzipped = gzipSync(readFileSync(outfile)).length;
  return { name, outfile, bytes, gzipped, metafile: result.metafile };
}

/** Imports the bundle in a fresh Node process (no environment) and reports how long the import took. */
function measureImport(outfile) {
  const script = [
    "const t0 = performance.now();",
    `const m = await import(${JSON.stringify(pathToFileURL(outfile).href)});`,
    "const ms = performance.now() - t0;",
    'if (typeof m.handle !== "function") { console.error("no exported function handle"); process.exit(3); }',
    "console.log(JSON.stringify({ ms }));",
  ].join("\n");
  return new Promise((resolve, reject) => {
    // A clean environment: a bundle must load without configuration (config is read on first invocation).
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      env: { PATH: process.env.PATH ?? "", NODE_ENV: "production" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`importing ${relative(ROOT, outfile)} failed (exit ${code}): ${err.trim().split("\n").slice(0, 5).join(" | ")}`));
      try {
        resolve(JSON.parse(out.trim().split("\n").pop()).ms);
      } catch {
        reject(new Error(`importing ${relative(ROOT, outfile)}: unexpected output ${out.slice(0, 200)}`));
      }
    });
  });
}

function largestInputs(metafile, outfile, count) {
  const out = metafile.outputs[relative(ROOT, outfile)] ?? Object.values(metafile.outputs)[0];
  const byPackage = new Map();
  for (const [path, info] of Object.entries(out?.inputs ?? {})) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    const key = m ? m[1] : "(project)";
    byPackage.set(key, (byPackage.get(key) ?? 0) + info.bytesInOutput);
  }
  return [...byPackage.entries()].sort((a, b) => b[1] - a[1]).slice(0, count);
}

async function main() {
  const measure = !process.argv.includes("--no-measure");
  await rm(DIST, { recursive: true, force: true });
  await mkdir(DIST, { recursive: true });
  // The bundles are ES modules with a .js extension: the runtime needs this to load them as such.
  await writeFile(join(DIST, "package.json"), JSON.stringify({ type: "module" }) + "\n");

  const bundles = await Promise.all(FUNCTIONS.map(bundle));
  const problems = [];
  for (const b of bundles) {
    const top = largestInputs(b.metafile, b.outfile, 4)
      .map(([k, v]) => `${k} ${formatBytes(v)}`)
      .join(", ");
    console.log(`${relative(ROOT, b.outfile)}  ${formatBytes(b.bytes)} (${formatBytes(b.gzipped)} gzipped)  largest: ${top}`);
    if (b.bytes > MAX_BUNDLE_BYTES) problems.push(`${relative(ROOT, b.outfile)} is ${formatBytes(b.bytes)}, over the ${formatBytes(MAX_BUNDLE_BYTES)} budget`);
  }

  if (measure) {
    for (const b of bundles) {
      const runs = [];
      try {
        for (let i = 0; i < IMPORT_RUNS; i++) runs.push(await measureImport(b.outfile));
      } catch (err) {
        problems.push(err.message);
        continue;
      }
      runs.sort((x, y) => x - y);
      const median = runs[Math.floor(runs.length / 2)];
      console.log(`${relative(ROOT, b.outfile)}  import ${median.toFixed(0)} ms (median of ${IMPORT_RUNS} fresh processes; min ${runs[0].toFixed(0)}, max ${runs.at(-1).toFixed(0)})`);
      // A time depends on the machine's load: printed against its goal, never a failed build.
      if (median > MAX_IMPORT_MS) console.warn(`build: warning: ${relative(ROOT, b.outfile)} took ${median.toFixed(0)} ms to import, over the ${MAX_IMPORT_MS} ms goal`);
    }
  }

  if (problems.length > 0) {
    for (const p of problems) console.error(`build: ${p}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
