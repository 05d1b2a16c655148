import type { Command } from "commander";
import { StageStore } from "../../cache/store.js";
import { loadConfig } from "../../config/load.js";
import { describePlan, planIso, relativeToCwd } from "../../plan/plan.js";
import { cacheDirFor, type GlobalOptions } from "../options.js";
import { epochOptions } from "./build.js";

export function registerPlan(program: Command, globals: () => GlobalOptions): void {
  program
    .command("plan")
    .description("print the ordered build stages and their cache keys without running anything")
    .option("--json", "print the plan as JSON")
    .option("--no-payload", "plan an ISO without the system image (see `atomiso build --help`)")
    .action(async (opts: { json?: boolean; payload: boolean }) => {
      const loaded = await loadConfig(globals().config);
      const plan = await planIso(loaded, {
        ...(await epochOptions(loaded.dir)),
        noPayload: !opts.payload,
      });
      const data = describePlan(plan);
      if (opts.json) {
        console.log(JSON.stringify(data, null, 2));
        return;
      }
      const store = new StageStore(cacheDirFor(globals()));
      console.log(`plan for ${relativeToCwd(plan.configFile)} -> ${relativeToCwd(plan.output)}`);
      plan.steps.forEach(({ stage, key }, i) => {
        const id = stage.definition.id;
        const state = store.has(id, key) ? "cached" : "to build";
        const after = stage.after.length ? ` (after ${stage.after.join(", ")})` : "";
        console.log(
          `${String(i + 1).padStart(2)}. ${id.padEnd(16)} ${key.slice(0, 16)}  ${state.padEnd(8)}  ${stage.definition.title}${after}`,
        );
      });
    });
}
