// Worker function: one shard message per invocation (Scaleway queue trigger), migrate doctor's ping.
import { loadConfig, loadConfigValues } from "../../shared/config.ts";
import { buildDeps } from "../../shared/runtime/composition-root.ts";
import { createWorkerHandler } from "../../shared/worker/handler.ts";
import { lazy } from "../lazy.ts";
import { tuneV8 } from "../../shared/runtime/v8-tuning.ts";

tuneV8();

export const handle = createWorkerHandler(lazy(() => buildDeps(loadConfig())), { configValues: lazy(() => loadConfigValues()) });
