/**
 * The deployed bundles hold the functions' code and nothing else: no command
 * line, no local runtime (in-process queue, trigger stand-in, server
 * launchers), no test fakes. Read from esbuild's metafile of the same build
 * that `npm run build` makes.
 */
import { describe, it, expect } from "vitest";
import { build, type Metafile } from "esbuild";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
// @ts-expect-error: a plain ES module without type declarations
import { bundleOptions, FUNCTIONS, outputsAtStart } from "../../scripts/build.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Project folders whose code must never reach a deployed function. */
const FORBIDDEN = ["shared/cli/", "shared/local/", "shared/fakes/", "test/", "bench/", "scripts/"];

async function inputsOf(entry: string): Promise<string[]> {
  const options = { ...bundleOptions(join(ROOT, entry), join(ROOT, "dist-graph", "out.js")), write: false, minify: false };
  const result = await build(options);
  return Object.keys((result.metafile as Metafile).inputs).filter((p) => !p.includes("node_modules"));
}

const forbiddenIn = (inputs: string[]) => inputs.filter((p) => FORBIDDEN.some((f) => p.startsWith(f)));

describe("deployed bundles", () => {
  for (const name of FUNCTIONS as string[]) {
    it(`the ${name} bundle contains no CLI, local-runtime or test module`, async () => {
      const inputs = await inputsOf(`functions/${name}/handler.ts`);
      expect(inputs).toContain(`functions/${name}/handler.ts`);
      expect(inputs.some((p) => p.startsWith("shared/"))).toBe(true);
      expect(forbiddenIn(inputs)).toEqual([]);
    });
  }

  it("the check sees such modules where they are: the CLI's own graph", async () => {
    const inputs = await inputsOf("shared/cli/main.ts");
    const found = forbiddenIn(inputs);
    expect(found).toContain("shared/cli/main.ts");
    expect(found).toContain("shared/local/run.ts");
  });
});

/**
 * The packages in what `migrate` compiles at start: the entry chunk of the
 * CLI's split bundle (bin/cli-bundle.mjs builds it the same way) and every
 * chunk it imports statically; chunks behind a dynamic import() are loaded
 * only by what uses them.
 */
async function packagesAtStart(): Promise<string[]> {
  const options = bundleOptions(join(ROOT, "shared", "cli", "main.ts"), join(ROOT, "dist-graph", "cli", "main.mjs"));
  const { outfile: _unused, ...rest } = options;
  const result = await build({ ...rest, outdir: join(ROOT, "dist-graph", "cli"), splitting: true, write: false, minify: false, outExtension: { ".js": ".mjs" } });
  const outputs = (result.metafile as Metafile).outputs;
  const entry = Object.keys(outputs).find((o) => outputs[o]!.entryPoint === "shared/cli/main.ts")!;
  const packages = new Set<string>();
  for (const o of outputsAtStart(outputs, entry) as string[]) {
    for (const input of Object.keys(outputs[o]!.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      if (m) packages.add(m[1]!);
    }
  }
  return [...packages].sort();
}

describe("the CLI's start", () => {
  it("compiles no SDK: they load when a command first needs one", async () => {
    const packages = await packagesAtStart();
    expect(packages).toContain("commander");
    expect(packages.filter((p) => /^@(aws-sdk|smithy|azure|scaleway)\//.test(p))).toEqual([]);
  }, 60_000);

  it("loads no package of node_modules at run time either (js-yaml waits for serverless.yml)", () => {
    // A preloaded script lists, as the process exits, the CommonJS modules that were loaded outside the bundle.
    const dir = mkdtempSync(join(tmpdir(), "cli-start-"));
    try {
      const preload = join(dir, "list.cjs");
      const out = join(dir, "loaded.json");
      writeFileSync(preload, `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(require.cache))));`);
      const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? dir };
      // The first start after a source change builds the bundle with esbuild (a CommonJS package): not measured.
      execFileSync(process.execPath, [join(ROOT, "bin", "migrate.js"), "--help"], { cwd: ROOT, stdio: "pipe", env });
      execFileSync(process.execPath, ["-r", preload, join(ROOT, "bin", "migrate.js"), "--help"], { cwd: ROOT, stdio: "pipe", env });
      const loaded = (JSON.parse(readFileSync(out, "utf8")) as string[]).filter((f) => f !== preload);
      expect(loaded.filter((f) => f.includes("node_modules"))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
