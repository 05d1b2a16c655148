// Is this tree installable as an atomic system? Rules about what ostree and bootc expect of a
// bootable image (docs/image.md), each finding one line with a level: errors make the image
// uninstallable (the lint fails), warnings are worth fixing. The tree is looked at from outside
// (a mounted image or a folder); nothing inside it is run.
import { readdir, readFile } from "node:fs/promises";
import { kernelReleaseOf } from "./kernel-version.js";
import { type Entry, list, lookup } from "./tree.js";

export type Backend = "bootc" | "ostree";
export type LintLevel = "error" | "warning";

export interface Finding {
  level: LintLevel;
  /** Stable rule id, e.g. "kernel", "boot-empty". */
  rule: string;
  message: string;
}

export interface ImageMeta {
  /** Image labels; undefined when linting a plain folder (no image config). */
  labels?: Record<string, string>;
  /** Unpacked size in bytes. */
  size: number;
  architecture?: string;
}

export interface LintOptions {
  /** Largest unpacked size accepted. */
  maxSizeBytes: number;
  /** How push compresses the layers (image.compression); zstd needs zstd in the image. */
  compression?: "gzip" | "zstd";
}

export interface LintReport {
  findings: Finding[];
  errors: number;
  warnings: number;
  /** How the installer will deploy it. */
  backend: Backend;
  /** Kernel release (the /usr/lib/modules folder), when exactly one kernel was found. */
  kernel?: string;
  /** The image has systemd-cryptsetup, so its initramfs can unlock a LUKS root (dracut's
   * crypt module needs it); the installer offers encryption only then. */
  luks: boolean;
  size: number;
  ok: boolean;
}

export const BACKEND_LABEL = "dev.atomiso.backend";
export const BOOTC_LABEL = "containers.bootc";

/** Debian's signed boot chain; the installer uses it when both are there (Secure Boot). */
const SIGNED_SHIM = "/usr/lib/shim/shimx64.efi.signed";
const SIGNED_GRUB = "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed";

/** Where Debian (and Fedora) put systemd-cryptsetup; without it no initramfs unlocks LUKS. */
const SYSTEMD_CRYPTSETUP = ["/usr/lib/systemd/systemd-cryptsetup", "/usr/bin/systemd-cryptsetup"];

/** Top-level folders that must be links into /var or /run on an atomic system. */
export const WRITABLE_LINKS: ReadonlyArray<readonly [string, string]> = [
  ["home", "var/home"],
  ["root", "var/roothome"],
  ["srv", "var/srv"],
  ["opt", "var/opt"],
  ["mnt", "var/mnt"],
  ["media", "run/media"],
];

class Findings {
  readonly items: Finding[] = [];
  error(rule: string, message: string): void {
    this.items.push({ level: "error", rule, message });
  }
  warning(rule: string, message: string): void {
    this.items.push({ level: "warning", rule, message });
  }
}

const isFile = (e: Entry) => e.kind === "file";
const isDir = (e: Entry) => e.kind === "dir";

const KIND_NAMES: Record<Entry["kind"], string> = {
  file: "file",
  dir: "folder",
  symlink: "link",
  device: "device node",
  other: "special file",
  missing: "missing",
};

function mib(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MiB`;
}

function sample(names: string[], n = 4): string {
  return names.length <= n
    ? names.join(", ")
    : `${names.slice(0, n).join(", ")}, … (${names.length})`;
}

/**
 * The install backend: the image's own `dev.atomiso.backend` label if it has one, else "bootc"
 * when it ships /usr/bin/bootc, else "ostree".
 */
export function chooseBackend(
  hasBootc: boolean,
  labels: Record<string, string> | undefined,
  out?: Findings,
): Backend {
  const declared = labels?.[BACKEND_LABEL];
  const bootcLabel = labels?.[BOOTC_LABEL];
  let backend: Backend = hasBootc ? "bootc" : "ostree";
  if (declared !== undefined) {
    if (declared === "bootc" || declared === "ostree") backend = declared;
    else
      out?.error(
        "backend",
        `label ${BACKEND_LABEL}="${declared}" names no install backend: use "bootc" or "ostree"`,
      );
  }
  if (bootcLabel === "1" && !hasBootc) {
    out?.error(
      "backend",
      `label ${BOOTC_LABEL}=1 but /usr/bin/bootc is missing: install bootc in the image or drop the label`,
    );
  }
  if (backend === "bootc" && !hasBootc && declared === "bootc") {
    out?.error(
      "backend",
      `label ${BACKEND_LABEL}=bootc but /usr/bin/bootc is missing: install bootc or use the ostree backend`,
    );
  }
  if (backend === "bootc" && hasBootc && labels && bootcLabel !== "1") {
    out?.warning(
      "backend",
      `the image ships /usr/bin/bootc but has no label ${BOOTC_LABEL}=1 (add LABEL ${BOOTC_LABEL}=1)`,
    );
  }
  return backend;
}

export async function lintTree(
  root: string,
  meta: ImageMeta,
  options: LintOptions,
): Promise<LintReport> {
  const f = new Findings();
  const at = (path: string, follow = true) => lookup(root, path, follow);

  if (meta.architecture && meta.architecture !== "amd64") {
    f.error("architecture", `the image is for ${meta.architecture}; atomiso installs amd64 images`);
  }

  // ---- kernel and initramfs ----
  const bootNames = await list(root, "/boot");
  const moduleDirs = await list(root, "/usr/lib/modules");
  const withKernel: string[] = [];
  for (const kver of moduleDirs) {
    if (isFile(await at(`/usr/lib/modules/${kver}/vmlinuz`))) withKernel.push(kver);
  }
  const bootKernels = bootNames.filter((n) => /^(vmlinuz|vmlinux|bzImage)/.test(n));
  let kernel: string | undefined;
  if (withKernel.length === 0) {
    if (bootKernels.length > 0) {
      f.error(
        "kernel",
        `the kernel is in /boot (${sample(bootKernels)}), not at /usr/lib/modules/<kver>/vmlinuz: copy it there; ostree and bootc install the kernel from /usr/lib/modules`,
      );
    } else {
      f.error(
        "kernel",
        `no kernel: /usr/lib/modules/<kver>/vmlinuz not found${moduleDirs.length ? ` (module folders: ${sample(moduleDirs)})` : ""}; install a kernel and copy its vmlinuz there`,
      );
    }
  } else if (withKernel.length > 1) {
    f.error(
      "kernel",
      `${withKernel.length} kernels in /usr/lib/modules (${sample(withKernel)}): a deployment boots exactly one; remove the others`,
    );
  } else {
    const kver = withKernel[0] as string;
    kernel = kver;
    const dir = `/usr/lib/modules/${kver}`;
    const release = await kernelReleaseOf((await at(`${dir}/vmlinuz`)).hostPath).catch(
      () => undefined,
    );
    if (release === undefined) {
      f.warning(
        "kernel",
        `cannot read the kernel version of ${dir}/vmlinuz (not an x86 bzImage?): make sure it is the kernel for ${kver}`,
      );
    } else if (release !== kver) {
      f.error(
        "kernel",
        `${dir}/vmlinuz is kernel ${release}, but sits in the module folder of ${kver}: the versions must match or no module will load`,
      );
    }
    if (!isFile(await at(`${dir}/modules.dep`))) {
      f.warning("kernel", `no ${dir}/modules.dep: run \`depmod ${kver}\` in the image`);
    }
    const initramfs = await at(`${dir}/initramfs.img`);
    const bootInitrds = bootNames.filter((n) => /^(initrd|initramfs)/.test(n));
    if (!isFile(initramfs)) {
      f.error(
        "initramfs",
        `no initramfs at ${dir}/initramfs.img${bootInitrds.length ? ` (/boot has ${sample(bootInitrds)}; it must be beside the kernel)` : ""}: run \`dracut --no-hostonly --kver ${kver} ${dir}/initramfs.img\` with ostree's dracut module`,
      );
    } else if (initramfs.size === 0) {
      f.error("initramfs", `${dir}/initramfs.img is empty: generate it again with dracut`);
    }
  }

  if (!isDir(await at("/boot"))) {
    f.error(
      "boot-empty",
      "/boot is missing: create it empty (the boot partition is mounted there)",
    );
  } else if (bootNames.length > 0) {
    f.error(
      "boot-empty",
      `/boot is not empty (${sample(bootNames)}): ostree writes the kernels there at deploy time; leave it empty in the image`,
    );
  }

  // ---- backend and its tools ----
  const hasBootc = isFile(await at("/usr/bin/bootc"));
  const backend = chooseBackend(hasBootc, meta.labels, f);
  if (backend === "ostree") {
    if (!isFile(await at("/usr/bin/ostree"))) {
      f.error(
        "ostree",
        "ostree is not installed (/usr/bin/ostree missing): the ostree backend deploys with the image's own ostree (Debian: ostree)",
      );
    }
    if (!isFile(await at("/usr/lib/ostree/ostree-prepare-root"))) {
      f.error(
        "ostree",
        "/usr/lib/ostree/ostree-prepare-root is missing: the installed system could not mount its deployment at boot (Debian: ostree-boot)",
      );
    }
    const grubTools: string[] = [];
    for (const tool of ["grub-install", "grub-mkconfig"]) {
      if (!isFile(await at(`/usr/sbin/${tool}`)) && !isFile(await at(`/usr/bin/${tool}`))) {
        grubTools.push(tool);
      }
    }
    if (grubTools.length > 0) {
      f.error(
        "bootloader",
        `${grubTools.join(" and ")} missing: the installer sets up the image's own GRUB (Debian: grub2-common)`,
      );
    }
    for (const [platform, pkg, firmware] of [
      ["i386-pc", "grub-pc-bin", "BIOS"],
      ["x86_64-efi", "grub-efi-amd64-bin", "UEFI"],
    ] as const) {
      if (!isDir(await at(`/usr/lib/grub/${platform}`))) {
        f.warning(
          "bootloader",
          `no /usr/lib/grub/${platform}: installs on ${firmware} machines will fail (Debian: ${pkg})`,
        );
      }
    }
    const unsigned: string[] = [];
    for (const path of [SIGNED_SHIM, SIGNED_GRUB]) if (!isFile(await at(path))) unsigned.push(path);
    if (unsigned.length > 0) {
      f.warning(
        "secure-boot",
        `no ${unsigned.join(" and no ")}: installed systems boot on UEFI only with Secure Boot off (Debian: shim-signed, grub-efi-amd64-signed)`,
      );
    }
    if (!isFile(await at("/etc/grub.d/15_ostree"))) {
      f.error(
        "bootloader",
        "/etc/grub.d/15_ostree is missing: grub-mkconfig would write no entry for the deployment (Debian: ostree-boot)",
      );
    }
    if (!isFile(await at("/etc/default/grub"))) {
      f.error(
        "bootloader",
        "/etc/default/grub is missing: without it 15_ostree silently writes no menu entries; ship one",
      );
    }
  }

  const prepareRoot = await at("/usr/lib/ostree/prepare-root.conf");
  if (!isFile(prepareRoot)) {
    f.warning(
      "prepare-root",
      "no /usr/lib/ostree/prepare-root.conf: ostree-prepare-root uses its built-in defaults",
    );
  } else if (backend === "ostree") {
    const enabled = composefsSetting(await readFile(prepareRoot.hostPath, "utf8"));
    if (enabled && /^(yes|true|1|signed|verity)$/i.test(enabled)) {
      f.warning(
        "prepare-root",
        `prepare-root.conf enables composefs (enabled = ${enabled}), which Debian's ostree does not support: set enabled = no unless the image's ostree has it`,
      );
    }
  }

  // ---- layer compression ----
  if (options.compression === "zstd") {
    if (backend === "ostree" && !isFile(await at("/usr/bin/zstd"))) {
      f.error(
        "zstd",
        'image.compression = "zstd" but the image has no /usr/bin/zstd: atomiso-update on installed systems could not unpack the zstd layers of updates; install zstd in the image (Debian: zstd) or push with image.compression = "gzip"',
      );
    } else if (backend === "bootc") {
      f.warning(
        "zstd",
        'image.compression = "zstd": `bootc upgrade` on installed systems must read zstd layers (not tested by atomiso); push with image.compression = "gzip" if it does not',
      );
    }
  }

  // ---- layout ----
  if (!isDir(await at("/sysroot"))) {
    f.error(
      "sysroot",
      "no /sysroot folder: ostree mounts the physical root there; create it empty",
    );
  }
  const ostreeLink = await at("/ostree", false);
  if (ostreeLink.kind === "missing") {
    f.error("ostree-link", "no /ostree: make it a link to sysroot/ostree");
  } else if (
    ostreeLink.kind !== "symlink" ||
    !["sysroot/ostree", "/sysroot/ostree"].includes(ostreeLink.target ?? "")
  ) {
    f.error(
      "ostree-link",
      `/ostree is ${ostreeLink.kind === "symlink" ? `a link to ${ostreeLink.target}` : `a ${KIND_NAMES[ostreeLink.kind]}`}: it must be a link to sysroot/ostree`,
    );
  }

  for (const path of ["/usr", "/etc", "/var", "/dev", "/proc", "/sys", "/run", "/tmp"]) {
    const e = await at(path);
    if (!isDir(e)) {
      f.error(
        "layout",
        `${path} is ${e.kind === "missing" ? "missing" : `a ${KIND_NAMES[e.kind]}, not a folder`}: ${path === "/etc" ? "an image keeps its configuration in /etc (ostree moves it to /usr/etc at install time)" : "the installed system needs it"}`,
      );
    }
  }
  const devEntries = await list(root, "/dev");
  if (devEntries.length > 0) {
    f.error(
      "dev-empty",
      `/dev is not empty (${sample(devEntries)}): ostree commit rejects device nodes; build the root without them (mmdebstrap --skip=output/dev)`,
    );
  }
  if ((await at("/usr/etc", false)).kind !== "missing") {
    f.warning(
      "etc",
      "the image has /usr/etc: keep configuration in /etc; ostree makes /usr/etc from it at install time",
    );
  }

  // ---- /var and the writable folders ----
  const varRun = await at("/var/run", false);
  if (varRun.kind === "dir") {
    f.warning("var", "/var/run is a folder: make it a link to ../run");
  }
  const created = await tmpfilesCreated(root);
  for (const [name, target] of WRITABLE_LINKS) {
    const e = await at(`/${name}`, false);
    if (e.kind === "missing") continue;
    if (e.kind !== "symlink") {
      f.warning(
        "writable-links",
        `/${name} is a ${KIND_NAMES[e.kind]}: it is read-only on the installed system; make it a link to ${target}`,
      );
      continue;
    }
    const linkTarget = (e.target ?? "").replace(/^\/+/, "");
    if (linkTarget.startsWith("var/") && !created.has(`/${linkTarget}`)) {
      f.warning(
        "tmpfiles",
        `/${name} links to ${e.target} but no tmpfiles.d line creates /${linkTarget} at boot (e.g. "d /${linkTarget} 0755 root root -")`,
      );
    }
  }

  const machineId = await at("/etc/machine-id");
  if (isFile(machineId) && machineId.size > 0) {
    const id = (await readFile(machineId.hostPath, "utf8")).trim();
    if (/^[0-9a-f]{32}$/.test(id)) {
      f.warning(
        "machine-id",
        "/etc/machine-id holds an id: every installed machine would share it; leave the file empty",
      );
    }
  }

  if (meta.size > options.maxSizeBytes) {
    f.error(
      "size",
      `the image is ${mib(meta.size)} unpacked, more than the ${mib(options.maxSizeBytes)} allowed (image.max_size_mib): the target's root partition needs room for it and for one update`,
    );
  }
  if (meta.labels && !meta.labels["org.opencontainers.image.version"]) {
    f.warning(
      "labels",
      'no label org.opencontainers.image.version: atomiso.lock records the version from it (LABEL org.opencontainers.image.version="1.0")',
    );
  }

  let luks = false;
  for (const path of SYSTEMD_CRYPTSETUP) if (isFile(await at(path))) luks = true;

  const errors = f.items.filter((x) => x.level === "error").length;
  const report: LintReport = {
    findings: f.items,
    errors,
    warnings: f.items.length - errors,
    backend,
    luks,
    size: meta.size,
    ok: errors === 0,
  };
  if (kernel !== undefined) report.kernel = kernel;
  return report;
}

/** The `enabled` key of the [composefs] group of a prepare-root.conf, if set. */
export function composefsSetting(text: string): string | undefined {
  let group = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const g = /^\[(.+)\]$/.exec(line);
    if (g) {
      group = (g[1] ?? "").trim();
      continue;
    }
    const kv = /^([^=]+)=(.*)$/.exec(line);
    if (group === "composefs" && kv && kv[1]?.trim() === "enabled") return kv[2]?.trim();
  }
  return undefined;
}

/** Paths that tmpfiles.d lines (d, D, v, q, Q, L, C) create at boot. */
async function tmpfilesCreated(root: string): Promise<Set<string>> {
  const created = new Set<string>();
  for (const dir of ["/usr/lib/tmpfiles.d", "/etc/tmpfiles.d"]) {
    const e = await lookup(root, dir);
    if (e.kind !== "dir") continue;
    for (const name of (await readdir(e.hostPath)).filter((n) => n.endsWith(".conf"))) {
      const file = await lookup(root, `${dir}/${name}`);
      if (file.kind !== "file") continue;
      for (const line of (await readFile(file.hostPath, "utf8")).split("\n")) {
        const [type, path] = line.trim().split(/\s+/);
        if (!type || !path || type.startsWith("#")) continue;
        if (/^[dDvqQLC]/.test(type)) created.add(path.replace(/\/+$/, ""));
      }
    }
  }
  return created;
}

export function formatFinding(finding: Finding): string {
  return `${finding.level}: ${finding.rule}: ${finding.message}`;
}

export function formatSummary(subject: string, report: LintReport): string {
  const counts = `${report.errors} error(s), ${report.warnings} warning(s)`;
  if (!report.ok) return `${subject}: NOT installable (${counts})`;
  return `${subject}: installable with the ${report.backend} backend (kernel ${report.kernel ?? "?"}, ${mib(report.size)} unpacked, LUKS root ${report.luks ? "can" : "cannot"} be unlocked; ${counts})`;
}
