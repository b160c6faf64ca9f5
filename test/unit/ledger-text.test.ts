import { describe, it, expect } from "vitest";
import { LedgerText } from "../../shared/state/ledger-text.ts";
import { registerSecret } from "../../shared/redact.ts";

describe("LedgerText (the ledger's lines not yet in a part)", () => {
  it("keeps lines as UTF-8 bytes across growth, redacted as they come, and resumes from a saved text", () => {
    // Arrange
    registerSecret("ledger-secret-value");
    const saved = '{"key":"é😀"}\n';
    const text = new LedgerText(saved);
    const line = `{"key":"${"x".repeat(1000)}","note":"ledger-secret-value"}\n`;
    // Act: far more than the first buffer holds
    for (let i = 0; i < 200; i++) text.add(line);
    // Assess
    const expected = saved + line.replace("ledger-secret-value", "[REDACTED]").repeat(200);
    expect(text.text()).toBe(expected);
    expect(text.byteLength).toBe(Buffer.byteLength(expected));
    expect(Buffer.from(text.bytes()).toString("utf8")).toBe(expected);
    expect(text.text()).not.toContain("ledger-secret-value");
  });

  it("starts empty again after clear()", () => {
    const text = new LedgerText();
    text.add("a\n");
    text.clear();
    text.add("b\n");
    expect(text.text()).toBe("b\n");
    expect(text.byteLength).toBe(2);
  });
});
