// A synthetic root tree laid out like an installable ostree image (no real binaries: empty
// files where ostree, GRUB and friends would be, a fake bzImage header for the kernel), for the
// lint rules. Tests break one thing at a time and expect one finding.
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fakeBzImage } from "../../src/image/kernel-version.js";

export const KVER = "6.1.0-atomiso-test";

export async function put(
  root: string,
  path: string,
  content: string | Buffer = "",
): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
}

export async function link(root: string, path: string, target: string): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await symlink(target, join(root, path));
}

export async function makeInstallableTree(root: string, kver = KVER): Promise<void> {
  for (const d of ["boot", "dev", "proc", "sys", "run", "tmp", "sysroot", "var/lib", "usr/bin"]) {
    await mkdir(join(root, d), { recursive: true });
  }
  await put(root, `usr/lib/modules/${kver}/vmlinuz`, fakeBzImage(kver));
  await put(root, `usr/lib/modules/${kver}/initramfs.img`, "initramfs");
  await put(root, `usr/lib/modules/${kver}/modules.dep`, "");
  await put(root, "usr/bin/ostree", "#!/bin/sh\n");
  await put(root, "usr/lib/ostree/ostree-prepare-root", "");
  await put(root, "usr/lib/ostree/prepare-root.conf", "[composefs]\nenabled = no\n");
  await put(root, "usr/sbin/grub-install", "");
  await put(root, "usr/sbin/grub-mkconfig", "");
  await mkdir(join(root, "usr/lib/grub/i386-pc"), { recursive: true });
  await mkdir(join(root, "usr/lib/grub/x86_64-efi"), { recursive: true });
  await put(root, "usr/lib/shim/shimx64.efi.signed", "");
  await put(root, "usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed", "");
  await put(root, "etc/grub.d/15_ostree", "");
  await put(root, "etc/default/grub", "GRUB_TIMEOUT=5\n");
  await put(root, "etc/machine-id", "");
  await link(root, "ostree", "sysroot/ostree");
  await link(root, "var/run", "../run");
  await link(root, "bin", "usr/bin");
  const lines: string[] = [];
  for (const [name, target] of [
    ["home", "var/home"],
    ["root", "var/roothome"],
    ["srv", "var/srv"],
    ["opt", "var/opt"],
    ["mnt", "var/mnt"],
    ["media", "run/media"],
  ] as const) {
    await link(root, name, target);
    lines.push(`d /${target} 0755 root root -`);
  }
  await put(root, "usr/lib/tmpfiles.d/atomiso-test.conf", `${lines.join("\n")}\n`);
}
