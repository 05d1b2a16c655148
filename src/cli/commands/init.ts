import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { Command } from "commander";
import { AtomisoError } from "../../errors.js";
import { safeRemove } from "../../mounts/safe-remove.js";
import { packageRoot } from "../../paths.js";
import { defaultLogo } from "../../render/png.js";

/** A product id from a folder name: lowercase, dashes, at most 32 characters. */
export function idFromName(name: string): string {
  const id = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 32);
  return id || "myos";
}

export async function initProfile(dir: string, name?: string): Promise<string[]> {
  const target = resolve(dir);
  const files = ["atomiso.toml", "branding"];
  const existing = files.filter((f) => existsSync(join(target, f)));
  if (existing.length > 0) {
    throw new AtomisoError(
      "usage",
      `${target} already has ${existing.join(" and ")}; nothing was written`,
      "choose an empty folder: atomiso init <dir>",
    );
  }
  const id = idFromName(name ?? basename(target));
  const product = name ?? id.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
  const example = await readFile(join(packageRoot, "examples/particleos/atomiso.toml"), "utf8");
  const toml = example
    .replace(
      /^# ParticleOS: .*$/m,
      `# ${product}: an installer ISO for an atomic system, made with atomiso.`,
    )
    .replace('name = "ParticleOS"', `name = ${JSON.stringify(product)}`)
    .replace('id = "particleos"', `id = "${id}"`)
    .replace('hostname = "particleos-live"', `hostname = "${id}-live"`)
    .replace(
      'volume_id = "PARTICLEOS"',
      `volume_id = "${id
        .toUpperCase()
        .replace(/[^A-Z0-9_-]/g, "_")
        .slice(0, 32)}"`,
    );
  await mkdir(target, { recursive: true });
  // Write into a temp folder and move into place, so a failure leaves nothing half written.
  const temp = await mkdtemp(join(target, ".atomiso-init-"));
  try {
    await writeFile(join(temp, "atomiso.toml"), toml);
    await mkdir(join(temp, "branding"));
    for (const [file, size] of [
      ["logo.png", 128],
      ["icon.png", 64],
      ["welcome.png", 256],
    ] as const) {
      await writeFile(join(temp, "branding", file), defaultLogo(size, "#16324f"));
    }
    await rename(join(temp, "branding"), join(target, "branding"));
    await rename(join(temp, "atomiso.toml"), join(target, "atomiso.toml"));
  } finally {
    await safeRemove(temp);
  }
  return files.map((f) => join(target, f));
}

export function registerInit(program: Command): void {
  program
    .command("init [dir]")
    .description("write a commented starter atomiso.toml and a branding folder")
    .option("--name <product>", "product name (default: from the folder name)")
    .action(async (dir: string | undefined, opts: { name?: string }) => {
      const written = await initProfile(dir ?? ".", opts.name);
      for (const f of written) console.log(`wrote ${f}`);
      console.log("next: atomiso validate, then sudo atomiso build");
    });
}
