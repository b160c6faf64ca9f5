import type { Command } from "commander";
import { registerVerify } from "./verify.ts";
import { registerRun } from "./run.ts";
import { registerStart } from "./start.ts";
import { registerStatus } from "./status.ts";
import { registerReport } from "./report.ts";
import { registerServe } from "./serve.ts";
import { registerProvision } from "./provision.ts";
import { registerDoctor } from "./doctor.ts";

/** Each subcommand lives in its own file and registers itself here. */
export function registerCommands(program: Command): void {
  void program;
  registerRun(program);
  registerStart(program);
  registerStatus(program);
  registerReport(program);
  registerServe(program);
  registerVerify(program);
  registerProvision(program);
  registerDoctor(program);
}
