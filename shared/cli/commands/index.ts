import type { Command } from "commander";
import { registerVerify } from "./verify.ts";
import { registerRun } from "./run.ts";

/** Each subcommand lives in its own file and registers itself here. */
export function registerCommands(program: Command): void {
  void program;
  registerRun(program);
  registerVerify(program);
}
