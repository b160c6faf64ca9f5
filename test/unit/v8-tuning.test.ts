import { describe, it, expect } from "vitest";
import { boundHeapGrowth, HEAP_GROWING_PERCENT, INTERRUPT_BUDGET, raiseTierUpBudget, startFlags } from "../../shared/runtime/v8-tuning.ts";

describe("raiseTierUpBudget (how soon V8 optimizes a function)", () => {
  it("raises the budget when node was started without one", () => {
    expect(raiseTierUpBudget([])).toBe(true);
    expect(raiseTierUpBudget(["--max-old-space-size=256", "--enable-source-maps"])).toBe(true);
    expect(INTERRUPT_BUDGET).toBe(8 * 67_584);
  });

  it("leaves an operator's own --interrupt-budget alone, in either spelling", () => {
    expect(raiseTierUpBudget(["--interrupt-budget=67584"])).toBe(false);
    expect(raiseTierUpBudget(["--interrupt_budget", "1000"])).toBe(false);
    expect(raiseTierUpBudget(["--interrupt-budget-for-feedback-allocation=940"])).toBe(true);
  });
});

describe("boundHeapGrowth (how far the heap grows past what is live)", () => {
  it("bounds the growth when node was started without a factor", () => {
    expect(boundHeapGrowth(["--max-old-space-size=256"])).toBe(true);
    expect(HEAP_GROWING_PERCENT).toBe(100);
  });

  it("leaves an operator's own factor alone, from the command line or NODE_OPTIONS", () => {
    expect(boundHeapGrowth(["--heap_growing_percent=50"])).toBe(false);
    expect(boundHeapGrowth(startFlags([], "--enable-source-maps  --heap-growing-percent=30"))).toBe(false);
    expect(boundHeapGrowth(startFlags(["--inspect"], ""))).toBe(true);
  });
});
