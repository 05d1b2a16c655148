// Checks the rendered Calamares configuration for what would break Calamares at run time —
// a module in the sequence without its .conf (the welcome page then waits forever), an
// instance of an unknown module, a layout that cannot hold the image, an ESP below the
// minimum — and reports it like any config error, before anything is built.
import { calamaresOptionsFor } from "../../config/calamares-options.js";
import { ConfigError, type LoadedConfig } from "../../config/load.js";
import type { Problem } from "../../config/problems.js";
import {
  ATOMISO_MODULES,
  type CalamaresOptions,
  moduleConfigs,
  NOCONFIG_MODULES,
  settingsConf,
} from "./render.js";

/** Modules shipped by Debian's calamares 3.3.14 package, plus atomiso's own job modules. */
export const KNOWN_MODULES = new Set([
  ...ATOMISO_MODULES,
  "bootloader",
  "contextualprocess",
  "displaymanager",
  "dracut",
  "dracutlukscfg",
  "dummycpp",
  "dummyprocess",
  "dummypython",
  "finished",
  "finishedq",
  "fsresizer",
  "fstab",
  "grubcfg",
  "hostinfo",
  "hwclock",
  "initcpio",
  "initcpiocfg",
  "initramfs",
  "initramfscfg",
  "interactiveterminal",
  "keyboard",
  "keyboardq",
  "license",
  "locale",
  "localecfg",
  "localeq",
  "luksbootkeyfile",
  "luksopenswaphookcfg",
  "machineid",
  "mkinitfs",
  "mount",
  "netinstall",
  "networkcfg",
  "notesqml",
  "oemid",
  "openrcdmcryptcfg",
  "packagechooser",
  "packagechooserq",
  "packages",
  "partition",
  "plymouthcfg",
  "preservefiles",
  "rawfs",
  "removeuser",
  "services-openrc",
  "services-systemd",
  "shellprocess",
  "summary",
  "summaryq",
  "tracking",
  "umount",
  "unpackfs",
  "unpackfsc",
  "users",
  "usersq",
  "welcome",
  "welcomeq",
  "zfs",
  "zfshostid",
]);

function mib(size: unknown): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(MiB|GiB|M|G)$/.exec(String(size));
  if (!m?.[1] || !m[2]) return undefined;
  return Number(m[1]) * (m[2].startsWith("G") ? 1024 : 1);
}

export function validateCalamares(o: CalamaresOptions): Problem[] {
  const problems: Problem[] = [];
  const settings = settingsConf(o);
  const confs = moduleConfigs(o);
  const instances = new Map(settings.instances.map((i) => [`${i.module}@${i.id}`, i]));

  for (const inst of settings.instances) {
    if (!KNOWN_MODULES.has(inst.module)) {
      problems.push({
        path: "installer",
        message: `Calamares instance "${inst.module}@${inst.id}" refers to an unknown module "${inst.module}"`,
        hint: `known modules: ${[...KNOWN_MODULES].slice(0, 8).join(", ")}, …`,
      });
    }
  }
  for (const step of settings.sequence.flatMap((s) => ("show" in s ? s.show : s.exec))) {
    const instance = instances.get(step);
    const module = instance?.module ?? step.split("@")[0] ?? step;
    if (!instance && step.includes("@")) {
      problems.push({
        path: "installer.pages",
        message: `"${step}" is in the sequence but no instance defines it`,
      });
      continue;
    }
    if (!KNOWN_MODULES.has(module)) {
      problems.push({ path: "installer.pages", message: `"${step}" is not a Calamares module` });
      continue;
    }
    const conf = instance ? instance.config.replace(/\.conf$/, "") : step;
    if (!NOCONFIG_MODULES.has(module) && !(conf in confs)) {
      problems.push({
        path: "installer.pages",
        message: `module "${step}" is in the sequence but has no ${conf}.conf, so the welcome page would wait for it forever`,
      });
    }
  }

  const pages = o.installer.pages;
  for (const required of ["partition", "users"] as const) {
    if (!pages.includes(required)) {
      problems.push({
        path: "installer.pages",
        message: `"${required}" is missing`,
        hint: "an atomic install needs a target disk and a user",
      });
    }
  }
  if (new Set(pages).size !== pages.length)
    problems.push({ path: "installer.pages", message: "lists a page twice" });
  if (pages.includes("welcome") && pages[0] !== "welcome") {
    problems.push({
      path: "installer.pages",
      message: '"welcome" must come first (it runs the requirement checks)',
    });
  }
  if (pages.includes("summary") && pages.at(-1) !== "summary") {
    problems.push({
      path: "installer.pages",
      message: '"summary" must come last (it lists what the install will do)',
    });
  }

  const p = o.installer.partition;
  if (!p.filesystems.includes(p.filesystem)) {
    problems.push({
      path: "installer.partition.filesystem",
      message: `"${p.filesystem}" is not among installer.partition.filesystems (${p.filesystems.join(", ")})`,
    });
  }
  const imageGiB = o.installer.requirements.image_gib;
  if (p.root_min_gib < 2 * imageGiB) {
    problems.push({
      path: "installer.partition.root_min_gib",
      message: `a ${p.root_min_gib} GiB root cannot hold the ${imageGiB} GiB image twice (an upgrade keeps two deployments)`,
      hint: `set root_min_gib to at least ${Math.ceil(2 * imageGiB)}`,
    });
  }
  const partition = confs.partition as
    | { efi?: { recommendedSize?: string; minimumSize?: string } }
    | undefined;
  const efi = mib(partition?.efi?.recommendedSize);
  const efiMin = mib(partition?.efi?.minimumSize);
  if (efi !== undefined && efiMin !== undefined && efi < efiMin) {
    problems.push({
      path: "installer.partition.efi_mib",
      message: `the EFI partition (${efi} MiB) is smaller than the minimum ${efiMin} MiB`,
    });
  }
  return problems;
}

/**
 * `atomiso validate` and `build`: the loaded profile's rendered Calamares configuration must
 * hold up too. Throws the ConfigError loadConfig would, listing every problem.
 */
export function checkCalamares(loaded: LoadedConfig): void {
  const problems = validateCalamares(calamaresOptionsFor(loaded.config, loaded.dir));
  if (problems.length > 0) throw new ConfigError(loaded.file, problems);
}
