import { describe, it, expect } from "vitest";
import { INTERRUPT_BUDGET, raiseTierUpBudget } from "../../shared/runtime/tier-up.ts";

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
