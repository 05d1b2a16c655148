import { describe, expect, it } from "vitest";
import { createReporter } from "../../src/log/reporter.js";

describe("reporter", () => {
  it("nests and times steps, and prints progress once per 10 % in plain mode", async () => {
    const out: string[] = [];
    const r = createReporter({ kind: "plain", write: (t) => out.push(t) });
    await r.step("outer", async () => {
      await r.step("inner", async () => {
        for (let i = 0; i <= 100; i++) r.progress(i / 100);
      });
      r.detail("hidden unless verbose");
    });
    const text = out.join("");
    expect(text).toMatch(/^▶ outer\n {2}▶ inner\n/);
    expect(text).toMatch(/ {2}✔ inner \(\d+\.\ds\)\n✔ outer \(\d+\.\ds\)\n$/);
    expect(text.match(/… \d+%/g)).toEqual([
      "… 0%",
      "… 10%",
      "… 20%",
      "… 30%",
      "… 40%",
      "… 50%",
      "… 60%",
      "… 70%",
      "… 80%",
      "… 90%",
      "… 100%",
    ]);
    expect(text).not.toContain("hidden");
  });

  it("marks failed steps and rethrows", async () => {
    const out: string[] = [];
    const r = createReporter({ kind: "json", write: (t) => out.push(t) });
    await expect(r.step("boom", async () => Promise.reject(new Error("x")))).rejects.toThrow("x");
    const events = out.map((l) => JSON.parse(l) as { event: string });
    expect(events.map((e) => e.event)).toEqual(["step-start", "step-failed"]);
  });
});
