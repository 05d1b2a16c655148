// Host tools: which Debian package provides each command atomiso runs, so a missing tool is
// reported with the exact apt-get line that fixes it.
import { AtomisoError } from "../errors.js";
import { hasCommand } from "./exec.js";

export const TOOL_PACKAGES: Record<string, string> = {
  mmdebstrap: "mmdebstrap",
  unshare: "util-linux",
  mount: "mount",
  chroot: "coreutils",
  mksquashfs: "squashfs-tools",
  unsquashfs: "squashfs-tools",
  xorriso: "xorriso",
  "grub-mkimage": "grub-common",
  "mkfs.fat": "dosfstools",
  mmd: "mtools",
  mcopy: "mtools",
  mdir: "mtools",
  "qemu-system-x86_64": "qemu-system-x86",
  "qemu-img": "qemu-utils",
  tesseract: "tesseract-ocr",
  podman: "podman",
  skopeo: "skopeo",
  "docker-registry": "docker-registry",
  losetup: "mount",
  partx: "util-linux",
  sfdisk: "fdisk",
  sgdisk: "gdisk",
  "mkfs.ext4": "e2fsprogs",
  // Release artifacts (src/release/).
  gpg: "gpg",
  "dpkg-query": "dpkg",
  tar: "tar",
  git: "git",
  getfattr: "attr",
  setfattr: "attr",
  cp: "coreutils",
};

/** Host files (not commands) the ISO build reads, by Debian package. */
export const HOST_FILES: Record<string, string> = {
  "/usr/lib/grub/i386-pc/boot_hybrid.img": "grub-pc-bin",
  "/usr/lib/grub/i386-pc/kernel.img": "grub-pc-bin",
  "/usr/lib/shim/shimx64.efi.signed": "shim-signed",
  "/usr/lib/shim/mmx64.efi.signed": "shim-signed",
  "/usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed": "grub-efi-amd64-signed",
  "/usr/share/OVMF/OVMF_CODE_4M.fd": "ovmf",
};

export async function missingTools(tools: readonly string[]): Promise<string[]> {
  const unique = [...new Set(tools)];
  const present = await Promise.all(unique.map(hasCommand));
  return unique.filter((_, i) => !present[i]);
}

export function aptInstallHint(packages: readonly string[]): string {
  return `apt-get install ${[...new Set(packages)].sort().join(" ")}   (or run \`atomiso doctor\`)`;
}

export async function checkTools(tools: readonly string[]): Promise<void> {
  const missing = await missingTools(tools);
  if (missing.length === 0) return;
  throw new AtomisoError(
    "tool-missing",
    `missing host tools: ${missing.join(", ")}`,
    aptInstallHint(missing.map((t) => TOOL_PACKAGES[t] ?? t)),
  );
}
