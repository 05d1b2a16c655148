// `atomiso init DIR`: a complete project of its own — atomiso.toml with only its names, the
// system image's Containerfile and files under image/, placeholder branding and slides, and a
// registry reference to the local development registry. Built in a temp folder inside DIR,
// checked with the same loader `atomiso validate` uses, then moved into place: a failure
// leaves nothing behind, and a project that is written validates.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rename, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { loadConfig } from "../config/load.js";
import { AtomisoError } from "../errors.js";
import { safeRemove } from "../mounts/safe-remove.js";
import { brandingFiles } from "./branding.js";
import { imageFiles } from "./image-files.js";
import { type ProjectNames, profileToml } from "./profile.js";

/** What init writes at the top of DIR. */
export const PROJECT_ENTRIES = ["atomiso.toml", "branding", "image", ".gitignore"] as const;

/** Plain ASCII: the name lands in TOML, a Containerfile LABEL and /etc/default/grub. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._+()-]{0,63}$/;

/** A product id from a name: lowercase, dashes, at most 32 characters. */
export function idFromName(name: string): string {
  const id = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 32)
    .replace(/-+$/, "");
  return id || "myos";
}

export function projectNames(dir: string, name?: string): ProjectNames {
  if (name !== undefined && !NAME.test(name)) {
    throw new AtomisoError(
      "usage",
      `--name ${JSON.stringify(name)} is not a plain product name`,
      "use 1-64 ASCII letters, digits, spaces and . _ + ( ) -, starting with a letter or digit",
    );
  }
  const id = idFromName(name ?? basename(resolve(dir)));
  const product =
    name ??
    id.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => `${d ? " " : ""}${c.toUpperCase()}`);
  return { name: product, id, version: "0.1.0" };
}

export interface InitResult {
  dir: string;
  names: ProjectNames;
  written: string[];
}

export async function initProject(dir: string, name?: string): Promise<InitResult> {
  const target = resolve(dir);
  const names = projectNames(target, name);
  const existing = PROJECT_ENTRIES.filter((f) => existsSync(join(target, f)));
  if (existing.length > 0) {
    throw new AtomisoError(
      "usage",
      `${target} already has ${existing.join(", ")}; nothing was written`,
      "choose a new or empty folder: atomiso init DIR",
    );
  }
  await mkdir(target, { recursive: true });
  const temp = await mkdtemp(join(target, ".atomiso-init-"));
  try {
    const files: Record<string, string | Buffer> = {
      "atomiso.toml": profileToml(names),
      ".gitignore":
        "# atomiso build's ISOs and their logs. Commit atomiso.lock: it pins the image.\nout/\n",
    };
    for (const [f, content] of Object.entries(brandingFiles("#16324f")))
      files[`branding/${f}`] = content;
    for (const [f, content] of Object.entries(imageFiles(names))) files[`image/${f}`] = content;
    for (const [f, content] of Object.entries(files)) {
      await mkdir(dirname(join(temp, f)), { recursive: true });
      await writeFile(join(temp, f), content);
    }
    // The same check as `atomiso validate`: what init writes must validate as it stands.
    await loadConfig(join(temp, "atomiso.toml"));
    for (const entry of PROJECT_ENTRIES) await rename(join(temp, entry), join(target, entry));
  } finally {
    await safeRemove(temp);
  }
  return { dir: target, names, written: PROJECT_ENTRIES.map((f) => join(target, f)) };
}
