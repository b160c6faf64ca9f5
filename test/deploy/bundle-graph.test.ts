/**
 * The deployed bundles hold the functions' code and nothing else: no command
 * line, no local runtime (in-process queue, trigger stand-in, server
 * launchers), no test fakes. Read from esbuild's metafile of the same build
 * that `npm run build` makes.
 */
import { describe, it, expect } from "vitest";
import { build, type Metafile } from "esbuild";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
// @ts-expect-error: a plain ES module without type declarations
import { bundleOptions, FUNCTIONS } from "../../scripts/build.mjs";

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
