import { mkdir, writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { configJsonSchema, configMarkdown } from "../../config/docs.js";
import { errorsMarkdown } from "../../errors-doc.js";
import { packageRoot } from "../../paths.js";

export function registerGenDocs(program: Command): void {
  program
    .command("gen-docs", { hidden: true })
    .description(
      "regenerate schema/atomiso.schema.json, docs/config.md and docs/errors.md from the code",
    )
    .action(async () => {
      await mkdir(`${packageRoot}schema`, { recursive: true });
      await mkdir(`${packageRoot}docs`, { recursive: true });
      await writeFile(
        `${packageRoot}schema/atomiso.schema.json`,
        `${JSON.stringify(configJsonSchema(), null, 2)}\n`,
      );
      await writeFile(`${packageRoot}docs/config.md`, configMarkdown());
      await writeFile(`${packageRoot}docs/errors.md`, errorsMarkdown());
      console.log("wrote schema/atomiso.schema.json, docs/config.md and docs/errors.md");
    });
}
