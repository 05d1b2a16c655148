// atomiso's command line: thin commands that parse flags, call one library function and print.
import { Command, CommanderError, Option } from "commander";
import { AtomisoError, formatError } from "../errors.js";
import { packageVersion } from "../paths.js";
import { registerBuild } from "./commands/build.js";
import { registerClean } from "./commands/clean.js";
import { registerDoctor } from "./commands/doctor.js";
import { registerGenDocs } from "./commands/gen-docs.js";
import { registerImage } from "./commands/image.js";
import { registerInit } from "./commands/init.js";
import { registerPlan } from "./commands/plan.js";
import { registerRegistry } from "./commands/registry.js";
import { registerRelease } from "./commands/release.js";
import { registerTestBoot } from "./commands/test-boot.js";
import { registerValidate } from "./commands/validate.js";
import type { GlobalOptions } from "./options.js";

export function buildProgram(): Command {
  const program = new Command("atomiso")
    .description("cut installer ISOs for atomic (bootc/ostree) operating systems")
    .version(packageVersion)
    .option("-c, --config <file>", "the profile to use", "atomiso.toml")
    .option(
      "--cache-dir <dir>",
      "stage and package cache (default /var/cache/atomiso, or $ATOMISO_CACHE_DIR)",
    )
    .addOption(
      new Option("--log <kind>", "log format (default: tty on a terminal, else plain)").choices([
        "tty",
        "plain",
        "json",
      ]),
    )
    .option("-v, --verbose", "show every line of tool output")
    .showHelpAfterError()
    .exitOverride();
  const globals = () => program.opts<GlobalOptions>();
  registerInit(program);
  registerValidate(program, globals);
  registerPlan(program, globals);
  registerBuild(program, globals);
  registerTestBoot(program, globals);
  registerDoctor(program, globals);
  registerClean(program, globals);
  registerImage(program, globals);
  registerRegistry(program, globals);
  registerRelease(program, globals);
  registerGenDocs(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    console.error(formatError(err));
    return err instanceof AtomisoError ? err.exitCode : 70;
  }
}
