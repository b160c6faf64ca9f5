/**
 * The version of this build (package.json's `version`): the bundles have it
 * written in by scripts/build.mjs; unbundled code (CLI, tests) reads package.json.
 */
import { createRequire } from "node:module";

declare const __MIGRATE_VERSION__: string | undefined;

export function buildVersion(): string {
  if (typeof __MIGRATE_VERSION__ === "string") return __MIGRATE_VERSION__;
  const load = createRequire(import.meta.url);
  return (load("../package.json") as { version: string }).version;
}
