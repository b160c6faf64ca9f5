#!/usr/bin/env node
// The operator CLI. Runs a cached esbuild bundle of the TypeScript sources
// (bin/cli-bundle.mjs, rebuilt when a source changes), or the sources through
// tsx when esbuild is not installed, so no build step is needed after `npm ci`.
// The SDK's notice about future Node versions is noise on an operator's terminal.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const { cliBundle } = await import("./cli-bundle.mjs");
const bundle = await cliBundle();
let main;
if (bundle) {
  try {
    ({ main } = await import(bundle));
  } catch {
    main = undefined;
  }
}
if (!main) {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../shared/cli/main.ts"));
}
process.exitCode = await main(process.argv);
