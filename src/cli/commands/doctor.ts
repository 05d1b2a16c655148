import type { Command } from "commander";
import { runDoctor } from "../../doctor/checks.js";
import { AtomisoError } from "../../errors.js";
import { cacheDirFor, type GlobalOptions } from "../options.js";

const MARK = { ok: "✔", warn: "!", fail: "✘" } as const;

export function registerDoctor(program: Command, globals: () => GlobalOptions): void {
  program
    .command("doctor")
    .description("check this host for everything atomiso needs, and say how to fix what is missing")
    .action(async () => {
      const findings = await runDoctor(cacheDirFor(globals()));
      for (const f of findings) {
        console.log(`${MARK[f.level]} ${f.check}: ${f.detail}`);
        if (f.fix && f.level !== "ok") console.log(`    fix: ${f.fix}`);
      }
      const failed = findings.filter((f) => f.level === "fail").length;
      if (failed > 0)
        throw new AtomisoError(
          "tool-missing",
          `${failed} check(s) failed`,
          "apply the fixes above, then run atomiso doctor again",
        );
    });
}
