/**
 * What a copy would cost on Scaleway Functions, from figures measured here.
 * Prices and tiers are the platform facts' (team notes, platform-facts.md:
 * "Scaleway Functions", from Scaleway's docs faq/serverless-functions; the
 * notes give no date for the prices). The free allowances (400,000 GB-s and 1 M requests a month)
 * are left out: a petabyte migration is far beyond them.
 */
import { GiB } from "../shared/limits.ts";

export const PRICES = {
  source: "platform-facts.md (Scaleway docs faq/serverless-functions; the notes give no date for the prices)",
  eurPerGbSecond: 1.2 / 100_000,
  eurPerRequest: 0.15 / 1_000_000,
};

/** Memory tiers (MB) and their vCPU (platform-facts.md: 128/70 ... 2048/1120 mVCPU). */
export const TIERS: Array<{ mb: number; vcpu: number }> = [
  { mb: 128, vcpu: 0.07 },
  { mb: 256, vcpu: 0.14 },
  { mb: 512, vcpu: 0.28 },
  { mb: 1024, vcpu: 0.56 },
  { mb: 2048, vcpu: 1.12 },
];

export const TB = 1e12;
/** A worker invocation copies this long and then continues in a new one (serverless.yml: 900 s timeout less the 60 s deadline margin). */
const INVOCATION_SECONDS = 840;

export interface CostInput {
  bytes: number;
  objects: number;
  /** CPU seconds of the copying process for these bytes and objects. */
  cpuSeconds: number;
  /** Wall seconds of the copy here (the floor the servers and network set). */
  seconds: number;
  peakRssMiB: number;
  shardMaxObjects: number;
  shardMaxBytes: number;
  /** A given tier (MB) instead of the smallest one above the peak RSS. */
  tierMb?: number;
}

export interface CostEstimate {
  /** The smallest tier above the peak RSS (tiers read as MiB), or the one asked for; undefined when none is. */
  tier?: { mb: number; vcpu: number };
  cpuSecondsPerGiB: number;
  wallSecondsPerGiB: number;
  /** Seconds a function of the tier needs per GiB: CPU seconds / vCPU, at least the wall time measured here. */
  functionSecondsPerGiB: number;
  cpuBound: boolean;
  gbSecondsPerTB: number;
  invocationsPerTB: number;
  eurComputePerTB: number;
  eurRequestsPerTB: number;
  eurPerTB: number;
}

export function estimate(c: CostInput): CostEstimate {
  const gib = c.bytes / GiB;
  const tier = c.tierMb === undefined ? TIERS.find((t) => t.mb > c.peakRssMiB) : TIERS.find((t) => t.mb === c.tierMb);
  const cpuSecondsPerGiB = c.cpuSeconds / gib;
  const wallSecondsPerGiB = c.seconds / gib;
  const cpuLimited = tier ? cpuSecondsPerGiB / tier.vcpu : NaN;
  const functionSecondsPerGiB = Math.max(cpuLimited, wallSecondsPerGiB);
  const tbGiB = TB / GiB;
  const gbSecondsPerTB = tier ? (tier.mb / 1024) * functionSecondsPerGiB * tbGiB : NaN;
  // One shard per shardMaxObjects objects or shardMaxBytes bytes; a worker invocation per INVOCATION_SECONDS of its copy; one coordinator invocation per finished shard.
  const shardsPerTB = Math.max((c.objects / c.bytes) * TB / c.shardMaxObjects, TB / c.shardMaxBytes);
  const shardSeconds = (functionSecondsPerGiB * tbGiB) / shardsPerTB;
  const invocationsPerTB = shardsPerTB * (Math.max(1, Math.ceil(shardSeconds / INVOCATION_SECONDS)) + 1);
  const eurComputePerTB = gbSecondsPerTB * PRICES.eurPerGbSecond;
  const eurRequestsPerTB = invocationsPerTB * PRICES.eurPerRequest;
  return {
    tier,
    cpuSecondsPerGiB,
    wallSecondsPerGiB,
    functionSecondsPerGiB,
    cpuBound: cpuLimited >= wallSecondsPerGiB,
    gbSecondsPerTB,
    invocationsPerTB,
    eurComputePerTB,
    eurRequestsPerTB,
    eurPerTB: eurComputePerTB + eurRequestsPerTB,
  };
}
