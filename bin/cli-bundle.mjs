// Start-up of the `migrate` CLI without compiling TypeScript on every start.
// Running the sources through tsx costs about 2 s of CPU and 70-80 MiB of RSS
// at each start. Instead, shared/cli/main.ts is bundled once (the same esbuild
// options as the deployed functions, as one CommonJS file) and compiled with
// V8's code cache: the first run saves the compiled code, later runs load it
// instead of parsing and compiling 3 MB of JavaScript again. A run over an
// empty prefix takes about 0.55 CPU-seconds with the cache against 0.85 for
// the split ES module bundle this replaced (Node 20 has no code cache for ES
// modules, hence CommonJS).
//
// Both are cached under node_modules/.cache/migrate-cli/: the bundle keyed by
// the size and mtime of every source file and of package-lock.json (an edited
// source is never served stale), the code cache by Node's version and the
// architecture, and V8 checks it against the source anyway (a rejected cache
// is only slower, and is replaced). Without esbuild (a production install) or
// when the build fails, the caller falls back to tsx. MIGRATE_NO_BUNDLE=1
// forces tsx.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

function sourceKey() {
  const h = createHash("sha256");
  const files = [join(ROOT, "package-lock.json"), fileURLToPath(import.meta.url), join(ROOT, "scripts", "build.mjs")];
  for (const rel of readdirSync(join(ROOT, "shared"), { recursive: true })) {
    if (/\.(ts|js|mjs|json)$/.test(rel)) files.push(join(ROOT, "shared", rel));
  }
  files.sort();
  for (const f of files) {
    try {
      const s = statSync(f);
      h.update(`${f}\0${s.size}\0${s.mtimeMs}\n`);
    } catch {
      h.update(`${f}\0missing\n`);
    }
  }
  return h.digest("hex").slice(0, 24);
}

/** What the sources read from `import.meta.url` is, in the CommonJS bundle, the bundle's own URL. */
const CLI_BANNER = 'const __migrateImportMetaUrl = require("node:url").pathToFileURL(__filename).href;';

/** Path of an up-to-date CommonJS bundle of the CLI, built when missing, or undefined (use tsx). */
async function bundlePath() {
  const cache = join(ROOT, "node_modules", ".cache", "migrate-cli");
  const name = `cli-${sourceKey()}`;
  const dir = join(cache, name);
  const file = join(dir, "main.cjs");
  if (existsSync(file)) return file;
  const { build } = await import("esbuild");
  const { bundleOptions } = await import("../scripts/build.mjs");
  mkdirSync(cache, { recursive: true });
  // Built in a directory of its own and renamed: concurrent starts never load a half-written bundle.
  const tmp = join(cache, `${name}.${process.pid}.${Date.now()}.tmp`);
  const options = bundleOptions(join(ROOT, "shared", "cli", "main.ts"), join(tmp, "main.cjs"));
  // import() of Node's built-ins (the AWS SDK's lazy node:http) becomes require: a script compiled with
  // vm has no module loader for import(), and code from a code cache would lose it anyway.
  await build({ ...options, format: "cjs", supported: { "dynamic-import": false }, metafile: false, logLevel: "silent", banner: { js: CLI_BANNER },
    define: { ...options.define, "import.meta.url": "__migrateImportMetaUrl" } });
  try {
    renameSync(tmp, dir);
  } catch (err) {
    // Another start renamed its build first: use that one.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(file)) throw err;
  }
  // Bundles of edited sources, and the ES module bundles of earlier versions.
  for (const f of readdirSync(cache)) if (f !== name && f.startsWith("cli-") && !f.endsWith(".tmp")) rmSync(join(cache, f), { recursive: true, force: true });
  return file;
}

/**
 * The CLI's `main` from the bundle, and `saveCodeCache` to call once main has
 * run (the cache then holds the functions the run compiled too); undefined
 * when there is no bundle (use tsx).
 */
export async function loadCli() {
  if (/^(1|true|yes)$/i.test(process.env.MIGRATE_NO_BUNDLE ?? "")) return undefined;
  let file;
  try {
    file = await bundlePath();
  } catch {
    return undefined;
  }
  const cacheFile = join(dirname(file), `code-${process.version}-${process.arch}.bin`);
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(file, "utf8")}\n})`, { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  const stale = cachedData === undefined || script.cachedDataRejected === true;
  return {
    main: module.exports.main,
    saveCodeCache() {
      if (!stale) return;
      // Best effort, written aside and renamed: a concurrent start reads a whole cache or none.
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch {
        rmSync(tmp, { force: true });
      }
    },
  };
}
