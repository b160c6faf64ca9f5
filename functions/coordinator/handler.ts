// Coordinator function: HTTP start, control-queue trigger, schedule trigger (sweep), migrate doctor's ping.
import { loadConfig, loadConfigValues } from "../../shared/config.ts";
import { buildDeps } from "../../shared/runtime/composition-root.ts";
import { createCoordinatorHandler } from "../../shared/coordinator/handler.ts";
import { lazy } from "../lazy.ts";
import { tuneV8 } from "../../shared/runtime/v8-tuning.ts";

tuneV8();

export const handle = createCoordinatorHandler(lazy(() => buildDeps(loadConfig())), { configValues: lazy(() => loadConfigValues()) });
