// Links the project's own `migrate` command into node_modules/.bin, so that
// `npx --no migrate` runs it after `npm ci` (npm links only dependencies' bins).
import { mkdirSync, rmSync, symlinkSync, chmodSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "node_modules", ".bin");
const target = join(root, "bin", "migrate.js");
mkdirSync(bin, { recursive: true });
rmSync(join(bin, "migrate"), { force: true });
symlinkSync(relative(bin, target), join(bin, "migrate"));
chmodSync(target, 0o755);
