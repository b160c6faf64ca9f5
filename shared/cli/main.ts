import { Command, CommanderError } from "commander";
import { ConfigError } from "../errors.ts";
import { describeError } from "../redact.ts";
import { registerCommands } from "./commands/index.ts";
import { EXIT } from "./exit-codes.ts";
import { tuneV8 } from "../runtime/v8-tuning.ts";

export async function main(argv: string[]): Promise<number> {
  tuneV8();
  const program = new Command("migrate")
    .description("Migrate Azure Blob Storage containers into Scaleway Object Storage, verified")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerCommands(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return EXIT.ok;
      return EXIT.usage;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`migrate: ${err.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`migrate: ${describeError(err)}\n`);
    return EXIT.failed;
  }
}
