#!/usr/bin/env node
// The operator CLI. Runs the TypeScript sources through tsx, so no build step is needed after `npm ci`.
// The SDK's notice about future Node versions is noise on an operator's terminal.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
import { register } from "tsx/esm/api";
register();
const { main } = await import("../shared/cli/main.ts");
process.exitCode = await main(process.argv);
