// Run by `npm run deploy` before `serverless deploy`: refuses to deploy functions
// that would fail for want of a variable. Prints names, never values.
import { homedir } from "node:os";
import { checkDeployEnv } from "../shared/provision/deploy-env.ts";

const { errors, warnings } = checkDeployEnv(process.env, { homeDir: homedir() });
for (const w of warnings) process.stderr.write(`deploy: warning: ${w}\n`);
for (const e of errors) process.stderr.write(`deploy: ${e}\n`);
if (errors.length > 0) {
  process.stderr.write("deploy: not deploying; see docs/deploy.md\n");
  process.exitCode = 2;
} else {
  process.stdout.write("deploy: environment complete\n");
}
