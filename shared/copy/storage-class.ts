/**
 * Which Scaleway storage class a copied object gets: `--storage-class` for every
 * object, `--tier-map` per Azure access tier (a mapped tier wins over the
 * default). Expressed as one map where "*" is the default, the shape the
 * metadata mapping reads.
 */
import { ConfigError } from "../errors.ts";

export const STORAGE_CLASSES = ["STANDARD", "ONEZONE_IA", "GLACIER"] as const;
export type StorageClassName = (typeof STORAGE_CLASSES)[number];
export const AZURE_TIERS = ["Hot", "Cool", "Cold", "Archive", "Premium"] as const;
/** Key of the default class in a storage-class map. */
export const ANY_TIER = "*";

export function parseStorageClass(raw: string, flag: string): StorageClassName {
  const v = raw.trim().toUpperCase();
  if (!(STORAGE_CLASSES as readonly string[]).includes(v)) throw new ConfigError(`${flag} must be one of ${STORAGE_CLASSES.join(", ")} (got "${raw.slice(0, 40)}")`);
  return v as StorageClassName;
}

/** `Hot=STANDARD,Cool=ONEZONE_IA,...` -> { Hot: "STANDARD", Cool: "ONEZONE_IA" }. */
export function parseTierMap(raw: string): Record<string, StorageClassName> {
  const out: Record<string, StorageClassName> = {};
  for (const pair of raw.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z]+)=([A-Za-z_]+)$/.exec(pair);
    if (!m) throw new ConfigError(`--tier-map entries look like Hot=STANDARD (got "${pair.slice(0, 40)}")`);
    const tier = AZURE_TIERS.find((t) => t.toLowerCase() === m[1]!.toLowerCase());
    if (!tier) throw new ConfigError(`--tier-map: "${m[1]}" is not an Azure access tier (${AZURE_TIERS.join(", ")})`);
    out[tier] = parseStorageClass(m[2]!, `--tier-map ${tier}`);
  }
  if (Object.keys(out).length === 0) throw new ConfigError("--tier-map is empty");
  return out;
}

/** The map the copy engine uses, from a run's options; undefined = no class sent (the bucket's default). */
export function storageClassMapOf(options: { storageClass?: string; tierMap?: Record<string, string> }): Record<string, string> | undefined {
  if (!options.storageClass && !options.tierMap) return undefined;
  return { ...(options.storageClass ? { [ANY_TIER]: options.storageClass } : {}), ...(options.tierMap ?? {}) };
}
