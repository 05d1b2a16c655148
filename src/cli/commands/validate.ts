import type { Command } from "commander";
import { loadConfig } from "../../config/load.js";
import { checkCalamares } from "../../render/calamares/validate.js";
import type { GlobalOptions } from "../options.js";

export function registerValidate(program: Command, globals: () => GlobalOptions): void {
  program
    .command("validate")
    .description("check atomiso.toml and the files it names; prints every problem, writes nothing")
    .action(async () => {
      const loaded = await loadConfig(globals().config);
      checkCalamares(loaded);
      console.log(
        `${loaded.file}: ok (${loaded.config.product.name} ${loaded.config.product.version})`,
      );
    });
}
