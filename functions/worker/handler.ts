// Worker function: one shard message per invocation (Scaleway queue trigger), migrate doctor's ping.
import { loadConfig, loadConfigValues } from "../../shared/config.ts";
import { buildDeps } from "../../shared/runtime/composition-root.ts";
import { createWorkerHandler } from "../../shared/worker/handler.ts";
import { lazy } from "../lazy.ts";
import { raiseTierUpBudget } from "../../shared/runtime/tier-up.ts";

raiseTierUpBudget();

export const handle = createWorkerHandler(lazy(() => buildDeps(loadConfig())), { configValues: lazy(() => loadConfigValues()) });
