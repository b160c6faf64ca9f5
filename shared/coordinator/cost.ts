/**
 * The dry run's cost estimate: what reading the planned blobs out of Azure
 * costs (egress and read operations) and what storing them at Scaleway costs a
 * month, by storage class. Figures from the plan and from prices given as
 * options; the defaults are indicative list prices (README "Cost estimate":
 * source and date), not a quote: contracts, reservations, free tiers, taxes and
 * currency rates differ.
 */
import type { BlobEntry } from "../ports.ts";
import type { Tuning } from "../limits.ts";
import { planParts } from "../copy/planner.ts";
import type { CostEstimate, CostPrices, CostState } from "../state/layout.ts";

export type { CostEstimate, CostPrices, CostState };

/** Indicative list prices: Azure West Europe Hot LRS pay-as-you-go, Scaleway fr-par. Override them with your own. */
export const DEFAULT_PRICES: CostPrices = {
  egressPerGiB: 0.087,
  readPer10k: 0.0044,
  listPer10k: 0.055,
  storagePerGiBMonth: { STANDARD: 0.0146, ONEZONE_IA: 0.0076, GLACIER: 0.0026 },
};

const GiB = 1024 ** 3;
const round = (n: number, digits = 4) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Accumulates planned blobs, then gives the estimate. Memory: a few numbers, whatever the plan's size. */
export class CostAccumulator {
  #bytes = 0;
  #reads = 0;
  readonly #byClass: Record<string, number> = {};

  constructor(
    private readonly tuning: Pick<Tuning, "partSize" | "maxParts" | "multipartThreshold">,
    private readonly classOf: (blob: BlobEntry) => string,
    /** What an earlier invocation had accumulated (the aggregation continues across invocations). */
    from?: CostState,
  ) {
    if (from) {
      this.#bytes = from.bytes;
      this.#reads = from.reads;
      Object.assign(this.#byClass, from.byClass);
    }
  }

  state(): CostState {
    return { bytes: this.#bytes, reads: this.#reads, byClass: { ...this.#byClass } };
  }

  add(blob: BlobEntry): void {
    this.#bytes += blob.size;
    // One GET for a small blob, one ranged GET per part for a multipart one.
    this.#reads += blob.size < this.tuning.multipartThreshold ? 1 : planParts(blob.size, this.tuning).parts.length;
    const cls = this.classOf(blob);
    this.#byClass[cls] = (this.#byClass[cls] ?? 0) + blob.size;
  }

  estimate(listed: number, pageSize: number, prices: CostPrices): CostEstimate {
    const egressGiB = this.#bytes / GiB;
    const listOperations = Math.max(1, Math.ceil(listed / Math.max(1, pageSize)));
    const egressCost = egressGiB * prices.egressPerGiB;
    const readCost = (this.#reads / 10_000) * prices.readPer10k;
    const listCost = (listOperations / 10_000) * prices.listPer10k;
    const storageGiBByClass: Record<string, number> = {};
    const monthlyCostByClass: Record<string, number> = {};
    let monthlyTotal = 0;
    for (const [cls, bytes] of Object.entries(this.#byClass)) {
      storageGiBByClass[cls] = round(bytes / GiB);
      const cost = (bytes / GiB) * (prices.storagePerGiBMonth[cls] ?? prices.storagePerGiBMonth.STANDARD ?? 0);
      monthlyCostByClass[cls] = round(cost, 2);
      monthlyTotal += cost;
    }
    return {
      note: "estimates from the plan and the given prices, not a quote: contracts, free tiers, taxes and exchange rates differ; Azure cool/cold tiers add a per-GiB retrieval charge not counted here",
      azure: {
        egressGiB: round(egressGiB),
        readOperations: this.#reads,
        listOperations,
        egressCost: round(egressCost, 2),
        readCost: round(readCost, 2),
        listCost: round(listCost, 2),
        total: round(egressCost + readCost + listCost, 2),
        currency: "USD",
      },
      scaleway: { storageGiBByClass, monthlyCostByClass, monthlyTotal: round(monthlyTotal, 2), currency: "EUR" },
      prices,
    };
  }
}
