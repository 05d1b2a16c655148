// docs/errors.md must list every error code as src/errors.ts defines it (run `npm run gen`),
// and the CLI must show the code with every error.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AtomisoError, ERROR_CODES, formatError } from "../../src/errors.js";
import { errorsMarkdown } from "../../src/errors-doc.js";

const root = join(import.meta.dirname, "../..");

describe("error codes", () => {
  it("docs/errors.md is up to date", async () => {
    const committed = await readFile(join(root, "docs/errors.md"), "utf8");
    expect(committed, "run `npm run gen` and commit the result").toBe(errorsMarkdown());
  });

  it("documents every code with a meaning and an action", () => {
    const md = errorsMarkdown();
    for (const [code, doc] of Object.entries(ERROR_CODES)) {
      expect(md).toContain(`## ${code}\n`);
      expect(doc.meaning.length).toBeGreaterThan(20);
      expect(doc.action.length).toBeGreaterThan(20);
    }
  });

  it("every code used in src/ is in the catalog", async () => {
    const { execFileSync } = await import("node:child_process");
    const used = execFileSync(
      "grep",
      ["-rhoE", 'AtomisoError\\(\\s*"[a-z-]+"', join(root, "src")],
      { encoding: "utf8" },
    )
      .split("\n")
      .filter(Boolean)
      .map((l) => l.replace(/.*"([a-z-]+)"/, "$1"));
    expect(used.length).toBeGreaterThan(5);
    for (const code of used) expect(Object.keys(ERROR_CODES)).toContain(code);
  });

  it("formatError shows the code and where it is explained", () => {
    const text = formatError(new AtomisoError("not-root", "must run as root", "run it with sudo"));
    expect(text).toBe(
      "must run as root\n  hint: run it with sudo\n  error code: not-root (see docs/errors.md)",
    );
  });
});
