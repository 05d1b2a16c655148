// The committed JSON Schema and config reference must match the zod schema (run `npm run gen`).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configJsonSchema, configMarkdown } from "../../src/config/docs.js";

const root = join(import.meta.dirname, "../..");

describe("generated config docs", () => {
  it("schema/atomiso.schema.json is up to date", async () => {
    const committed = await readFile(join(root, "schema/atomiso.schema.json"), "utf8");
    expect(committed, "run `npm run gen` and commit the result").toBe(
      `${JSON.stringify(configJsonSchema(), null, 2)}\n`,
    );
  });

  it("docs/config.md is up to date", async () => {
    const committed = await readFile(join(root, "docs/config.md"), "utf8");
    expect(committed, "run `npm run gen` and commit the result").toBe(configMarkdown());
  });

  it("documents every section and key", () => {
    const md = configMarkdown();
    for (const key of [
      "[product]",
      "[live]",
      "[live.repositories]",
      "[live.hooks]",
      "[iso]",
      "[branding]",
      "`volume_id`",
      "`signed_by`",
    ]) {
      expect(md).toContain(key);
    }
  });
});
