#!/usr/bin/env node
// The operator CLI. Runs the TypeScript sources through tsx, so no build step is needed after `npm ci`.
import { register } from "tsx/esm/api";
register();
const { main } = await import("../shared/cli/main.ts");
process.exitCode = await main(process.argv);
