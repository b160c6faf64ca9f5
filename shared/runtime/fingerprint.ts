/**
 * A stable hash of a function's configuration: the non-secret values it
 * loaded and which secrets are set (names only). A function answers a ping
 * with it; `migrate doctor` computes the same from the operator's exports:
 * equal hashes mean the variables and secrets reached the function. Each
 * value also has its own short digest, so a difference can be named without
 * showing any value.
 */
import { createHash } from "node:crypto";
import type { ConfigValues } from "../config.ts";

export interface ConfigFingerprint {
  /** sha256 hex of every value and the set of secret names. */
  hash: string;
  /** Short digest of each value, by variable. */
  items: Record<string, string>;
  /** Names of the secrets set, sorted. */
  secrets: string[];
}

const digest = (text: string) => createHash("sha256").update(text).digest("hex");

export function fingerprint(config: Pick<ConfigValues, "values" | "secretsSet">): ConfigFingerprint {
  const names = Object.keys(config.values).sort();
  const items = Object.fromEntries(names.map((n) => [n, digest(config.values[n]!).slice(0, 16)]));
  const secrets = [...new Set(config.secretsSet)].sort();
  return { hash: digest(JSON.stringify({ values: names.map((n) => [n, config.values[n]]), secrets })), items, secrets };
}

/** What differs between an expected fingerprint and a function's, by name: never a value. */
export function fingerprintDifferences(expected: ConfigFingerprint, actual: ConfigFingerprint): string[] {
  const out: string[] = [];
  for (const name of new Set([...Object.keys(expected.items), ...Object.keys(actual.items)])) {
    if (expected.items[name] !== actual.items[name]) out.push(`${name} differs`);
  }
  for (const s of expected.secrets) if (!actual.secrets.includes(s)) out.push(`secret ${s} is not set there`);
  for (const s of actual.secrets) if (!expected.secrets.includes(s)) out.push(`secret ${s} is set there but not in your exports`);
  return out;
}
