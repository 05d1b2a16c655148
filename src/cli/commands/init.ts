import type { Command } from "commander";
import { initProject } from "../../init/project.js";
import { relativeToCwd } from "../../plan/plan.js";

export function registerInit(program: Command): void {
  program
    .command("init [dir]")
    .description(
      "write a new project: atomiso.toml, its system image (image/Containerfile), placeholder branding",
    )
    .option("--name <product>", "product name (default: from the folder name)")
    .action(async (dir: string | undefined, opts: { name?: string }) => {
      const result = await initProject(dir ?? ".", opts.name);
      for (const f of result.written) console.log(`wrote ${f}`);
      const where = relativeToCwd(result.dir);
      console.log(
        [
          `${result.names.name} (${result.names.id}) is ready. Next, as root${where ? ` in ${where}` : ""}:`,
          "  atomiso validate         checks the profile (it passes as written)",
          "  atomiso registry start   a local registry on 127.0.0.1:5000 for the system image",
          "  atomiso image build      builds the system image from image/Containerfile",
          "  atomiso push             pushes it and pins its digest in atomiso.lock",
          "  atomiso build            the installer ISO, in out/",
        ].join("\n"),
      );
    });
}
