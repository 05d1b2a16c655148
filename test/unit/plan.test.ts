import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { describePlan, type Plan, planIso } from "../../src/plan/plan.js";

const example = join(import.meta.dirname, "../../examples/particleos/atomiso.toml");

const keys = (plan: Plan) =>
  Object.fromEntries(plan.steps.map((s) => [s.stage.definition.id, s.key]));

describe("plan", async () => {
  const loaded = await loadConfig(example);
  const plan = await planIso(loaded);

  it("orders the stages so every stage comes after its inputs", () => {
    const ids = plan.steps.map((s) => s.stage.definition.id);
    expect(ids).toEqual([
      "bootstrap",
      "calamares",
      "live-config",
      "squashfs-base",
      "squashfs-config",
      "kernel",
      "boot-files",
      "iso",
    ]);
    for (const [i, step] of plan.steps.entries()) {
      for (const dep of step.stage.after) expect(ids.indexOf(dep)).toBeLessThan(i);
    }
    expect(plan.output).toBe(join(loaded.dir, "out/particleos-0.1.0.iso"));
  });

  it("is deterministic", async () => {
    expect(keys(await planIso(loaded))).toEqual(keys(plan));
  });

  it("rebuilds only the live layer and the ISO when the hostname changes", async () => {
    const changed = structuredClone(loaded);
    changed.config.live.hostname = "other-live";
    const before = keys(plan);
    const after = keys(await planIso(changed));
    const differs = Object.keys(before).filter((id) => before[id] !== after[id]);
    expect(differs).toEqual(["live-config", "squashfs-config", "iso"]);
  });

  it("rebuilds the base system when a package is added", async () => {
    const changed = structuredClone(loaded);
    changed.config.live.packages = ["htop"];
    const before = keys(plan);
    const after = keys(await planIso(changed));
    expect(Object.keys(before).filter((id) => before[id] !== after[id])).toEqual([
      "bootstrap",
      "live-config",
      "squashfs-base",
      "squashfs-config",
      "kernel",
      "iso",
    ]);
  });

  it("prints as JSON without host paths in the keyed options", () => {
    const json = describePlan(plan);
    expect(json.stages[0]).toMatchObject({ id: "bootstrap", tools: ["mmdebstrap", "unshare"] });
    expect(JSON.stringify(json.stages[0]?.options)).toContain("calamares");
    expect(json.stages.every((s) => s.key.length === 16)).toBe(true);
  });
});
