import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { describePlan, noPayloadName, planIso } from "../../src/plan/plan.js";

const nimbus = new URL("../../examples/nimbus/atomiso.toml", import.meta.url).pathname;

describe("--no-payload output name", () => {
  it("never takes the installable ISO's name", () => {
    expect(noPayloadName("/o/os-1.0.iso")).toBe("/o/os-1.0-nopayload.iso");
    expect(noPayloadName("/o/OS.ISO")).toBe("/o/OS-nopayload.ISO");
    expect(noPayloadName("/o/medium")).toBe("/o/medium-nopayload.iso");
  });

  it("is what the plan writes, and the plan says it cannot install", async () => {
    const loaded = await loadConfig(nimbus);
    const plan = await planIso(loaded, { noPayload: true });
    expect(plan.output).toMatch(/\/out\/nimbus-2\.0-nopayload\.iso$/);
    expect(describePlan(plan)).toMatchObject({ installable: false });
  });
});
