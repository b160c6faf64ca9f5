// Start-up of the `migrate` CLI without compiling TypeScript on every start.
// Running the sources through tsx costs about 2 s of CPU and 70-80 MiB of RSS
// at each start; a bundle of shared/cli/main.ts (the same esbuild options as
// the deployed functions) starts in about 0.4 s. The bundle is cached under
// node_modules/.cache/migrate-cli/, keyed by the size and mtime of every
// source file and of package-lock.json, so an edited source is never served
// stale. Without esbuild (a production install) or when the build fails, the
// caller falls back to tsx. MIGRATE_NO_BUNDLE=1 forces tsx.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

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

/** CommonJS dependencies bundled into ESM still reach for require, __filename and __dirname. */
const CLI_BANNER =
  'import { createRequire as __migrateCreateRequire } from "node:module"; import { fileURLToPath as __migrateFileUrl } from "node:url"; import { dirname as __migrateDirname } from "node:path"; ' +
  "const require = __migrateCreateRequire(import.meta.url); const __filename = __migrateFileUrl(import.meta.url); const __dirname = __migrateDirname(__filename);";

/**
 * URL of an up-to-date bundle of the CLI, or undefined (use tsx). The bundle is
 * split: what only some commands need (the Scaleway SDK of provision, the
 * functions framework of serve, Entra ID's MSAL) sits in chunks loaded when
 * used, so `migrate run` compiles and evaluates about a quarter less code.
 */
export async function cliBundle() {
  if (/^(1|true|yes)$/i.test(process.env.MIGRATE_NO_BUNDLE ?? "")) return undefined;
  try {
    const cache = join(ROOT, "node_modules", ".cache", "migrate-cli");
    const name = `cli-${sourceKey()}`;
    const dir = join(cache, name);
    const file = join(dir, "main.mjs");
    if (!existsSync(file)) {
      const { build } = await import("esbuild");
      const { bundleOptions } = await import("../scripts/build.mjs");
      mkdirSync(cache, { recursive: true });
      // Built in a directory of its own and renamed: concurrent starts never load a half-written bundle.
      const tmp = join(cache, `${name}.${process.pid}.${Date.now()}.tmp`);
      const { outfile: _unused, ...options } = bundleOptions(join(ROOT, "shared", "cli", "main.ts"), join(tmp, "main.mjs"));
      await build({ ...options, outdir: tmp, entryNames: "[name]", chunkNames: "chunk-[hash]", outExtension: { ".js": ".mjs" }, splitting: true,
        metafile: false, logLevel: "silent", banner: { js: CLI_BANNER } });
      try {
        renameSync(tmp, dir);
      } catch (err) {
        // Another start renamed its build first: use that one.
        rmSync(tmp, { recursive: true, force: true });
        if (!existsSync(file)) throw err;
      }
      // Bundles of edited sources.
      for (const f of readdirSync(cache)) if (f !== name && f.startsWith("cli-") && !f.endsWith(".tmp")) rmSync(join(cache, f), { recursive: true, force: true });
    }
    return pathToFileURL(file).href;
  } catch {
    return undefined;
  }
}
