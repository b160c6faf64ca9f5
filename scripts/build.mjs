#!/usr/bin/env node
/**
 * Builds one self-contained ESM bundle per deployed function:
 *   functions/<name>/handler.ts  ->  dist/<name>/handler.js (+ dist/<name>/chunk-*.js)
 * The Node runtime on Scaleway Functions does not run `npm install`, so the
 * bundles carry every dependency; `package.patterns` in serverless.yml ships
 * only dist/. Fails when a bundle is over the size budget or does not load (an import over its time goal is a warning), or
 * does not export `handle`.
 *
 * Split in chunks: what a function loads only when it needs it (the AWS SDK's
 * S3 and SQS clients, the Azure SDK, Entra ID sign-in: 1.2 MB of the 1.5)
 * sits in chunks of its own, so a cold start compiles handler.js and what it
 * imports (about 0.13 MB) instead of the whole file. Measured: the worker's
 * import took 55-70 ms of CPU instead of 280-320 ms.
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
 * Per-function budget, all its files together: a small zip uploads fast.
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

/** The same options, the function's code split in chunks (see the top of this file) under dist/<name>/. */
export function splitBundleOptions(entry, outdir) {
  const { outfile: _single, ...options } = bundleOptions(entry, join(outdir, "handler.js"));
  return { ...options, outdir, entryNames: "handler", chunkNames: "chunk-[hash]", splitting: true };
}

/** What a start loads of a split build: the entry's output and the chunks it imports statically, not those behind import(). */
export function outputsAtStart(outputs, entry) {
  const seen = new Set();
  const walk = (o) => {
    if (seen.has(o) || !outputs[o]) return;
    seen.add(o);
    for (const i of outputs[o].imports) if (i.kind === "import-statement") walk(i.path);
  };
  walk(entry);
  return [...seen];
}

async function bundle(name) {
  const outdir = join(DIST, name);
  const outfile = join(outdir, "handler.js");
  const result = await build(splitBundleOptions(join(ROOT, "functions", name, "handler.ts"), outdir));
  const files = Object.keys(result.metafile.outputs).map((f) => join(ROOT, f));
  let bytes = 0;
  let gzipped = 0;
  for (const f of files) {
    bytes += (await stat(f)).size;
    gzipped += gzipSync(readFileSync(f)).length;
  }
  const outputs = result.metafile.outputs;
  const startBytes = outputsAtStart(outputs, relative(ROOT, outfile)).reduce((n, o) => n + outputs[o].bytes, 0);
  return { name, outfile, files, bytes, startBytes, gzipped, metafile: result.metafile };
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

/** The packages that weigh most in a function's files, all its chunks together. */
function largestInputs(metafile, count) {
  const byPackage = new Map();
  for (const out of Object.values(metafile.outputs)) {
    for (const [path, info] of Object.entries(out.inputs ?? {})) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
      const key = m ? m[1] : "(project)";
      byPackage.set(key, (byPackage.get(key) ?? 0) + info.bytesInOutput);
    }
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
    const top = largestInputs(b.metafile, 4)
      .map(([k, v]) => `${k} ${formatBytes(v)}`)
      .join(", ");
    console.log(
      `${relative(ROOT, b.outfile)}  ${formatBytes(b.bytes)} in ${b.files.length} files (${formatBytes(b.gzipped)} gzipped; ${formatBytes(b.startBytes)} loaded at start)  largest: ${top}`,
    );
    if (b.bytes > MAX_BUNDLE_BYTES) problems.push(`${relative(ROOT, dirname(b.outfile))} is ${formatBytes(b.bytes)}, over the ${formatBytes(MAX_BUNDLE_BYTES)} budget`);
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
