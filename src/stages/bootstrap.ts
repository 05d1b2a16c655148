// Stage "bootstrap": mmdebstrap builds the live root (Debian trixie by default) in a private
// mount namespace. Downloaded packages are kept in a shared cache outside the repository, so a
// rebuild with a changed package list downloads only what is new.
import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { libexecDir, packageRoot } from "../paths.js";
import { run } from "../tools/exec.js";
import { mmdebstrapArgv, mmdebstrapProgress } from "../tools/mmdebstrap.js";
import { inPrivateMountNamespace } from "../tools/namespace.js";
import type { StageDefinition } from "./stage.js";

export interface BootstrapRepository {
  uri: string;
  suite: string;
  components: string[];
  /** Absolute path of the signing key on the build host. */
  keyFile: string;
}

export interface BootstrapOptions {
  suite: string;
  mirror: string;
  components: string[];
  arch: string;
  /** Every package to install (atomiso's base set plus the profile's), sorted. */
  packages: string[];
  repositories: BootstrapRepository[];
  /** SOURCE_DATE_EPOCH: mmdebstrap then makes the tree reproducible (times, machine-id, logs). */
  epoch?: number;
}

/** What the live environment needs, before any profile packages. */
export const BASE_PACKAGES = [
  "linux-image-amd64",
  "live-boot",
  "systemd-sysv",
  "dbus",
  "sudo",
  "procps",
  "xserver-xorg-core",
  "xserver-xorg-input-libinput",
  "sddm",
  "calamares",
  // KPMcore (Calamares' partitioning) authorises its helper through polkit even as root:
  // without polkitd the welcome page waits for the partition module forever.
  "polkitd",
  "libpam-systemd",
  // The slideshow's Presentation.qml imports QtQuick.Window.
  "qml6-module-qtquick-window",
  "fonts-dejavu-core",
  // A window manager, so Calamares' window is active and takes keyboard shortcuts at once.
  "openbox",
  // Paints the session's screen in the product's colour (installer-session).
  "hsetroot",
  // ckbcomp, for the keyboard page's layout preview.
  "console-setup",
  // File system tools the partition module runs on the target disk.
  "dosfstools",
  "e2fsprogs",
  "xfsprogs",
  "btrfs-progs",
  // KPMcore shrinks NTFS with ntfsresize (and labels/checks it with ntfs-3g's tools): without
  // it the partition page offers no "Install alongside" on a Windows disk.
  "ntfs-3g",
  // Finds the other systems on the disks: Calamares names them on the partition page, and
  // install-bootloader turns them into boot menu entries of the installed GRUB.
  "os-prober",
  // The UEFI firmware boot entry of the installed system (grub-install without --no-nvram).
  "efibootmgr",
  // LUKS2 for an encrypted root (unattended installs; KPMcore offers encryption only with it).
  "cryptsetup",
  // The installers: the ostree deploy backend, the unattended installer and the Calamares job
  // modules (python3), GPT tools (sfdisk). podman and skopeo: installerPackages().
  "ostree",
  "python3",
  "fdisk",
  "zstd",
  "locales",
  "xkb-data",
  "kbd",
  // NetworkManager manages every NIC (wired by DHCP on its own; Wi-Fi through the tray applet,
  // with wpasupplicant and the regulatory database) and writes /etc/resolv.conf itself: online
  // installs pull the image from its registry. No systemd-resolved: a service at every boot
  // (on sysinit.target's chain, seconds of CPU in a TCG guest) for what the file does here.
  // Wi-Fi firmware is the profile's choice (docs/live-system.md).
  "network-manager",
  "wpasupplicant",
  "wireless-regdb",
  // The tray applet (Qt, talks to NetworkManager) and a tray for it (openbox has no panel).
  // nm-tray needs some x-terminal-emulator: xterm is the smallest (else apt takes qterminal).
  "nm-tray",
  "stalonetray",
  "xterm",
  // The high-contrast palette for Calamares (atomiso.contrast=high): qt6ct's platform theme.
  "qt6ct",
];

/** [live] accessibility: the screen reader and its speech (Orca pulls in AT-SPI, GTK and
 * speech-dispatcher; the eSpeak NG module is only a recommendation of speech-dispatcher).
 * What of theirs the session does not need (emoji names, braille tables, some voices, video
 * plugins) libexec/live-root-excludes leaves out. */
export const ACCESSIBILITY_PACKAGES = ["orca", "speech-dispatcher-espeak-ng", "at-spi2-core"];

/** What the pinned image needs to be installed; "none" when the ISO carries no install plan
 * (no [image], or --no-payload without a lock to read the backend from). */
export interface InstallNeeds {
  backend: "ostree" | "bootc" | "none";
  payload: "embedded" | "online" | "none";
}

/**
 * The container tools the deploy backends run, and only those (podman with its network stack
 * is about 180 MB unpacked, skopeo pulls containernetworking-plugins in too):
 * - bootc-deploy runs `bootc install` from the image with podman, loading it with skopeo;
 * - fetch-payload pulls an online image with skopeo (either backend);
 * - the ostree backend unpacks an embedded OCI layout itself (tar, gzip, zstd, ostree).
 */
export function installerPackages(needs: InstallNeeds): string[] {
  const packages: string[] = [];
  if (needs.backend === "bootc") packages.push("podman");
  if (needs.backend === "bootc" || needs.payload === "online") packages.push("skopeo");
  return packages;
}

/**
 * Every package of the live root: the base set, the installer tools, the profile's, the SSH
 * server only when [live] ssh_keys asks for one, the screen reader only with [live]
 * accessibility, Plymouth only with [live] splash.
 */
export function livePackages(
  needs: InstallNeeds,
  profilePackages: readonly string[],
  options: { sshServer?: boolean; accessibility?: boolean; splash?: boolean } = {},
): string[] {
  return [
    ...new Set([
      ...BASE_PACKAGES,
      ...installerPackages(needs),
      ...(options.sshServer ? ["openssh-server"] : []),
      ...(options.accessibility ? ACCESSIBILITY_PACKAGES : []),
      ...(options.splash ? ["plymouth"] : []),
      ...profilePackages,
    ]),
  ].sort();
}

export function keyringName(index: number, keyFile: string): string {
  return `atomiso-repo-${index}${keyFile.endsWith(".gpg") ? ".gpg" : ".asc"}`;
}

export function sourcesLine(repo: BootstrapRepository, index: number): string {
  return `deb [signed-by=/etc/apt/keyrings/${keyringName(index, repo.keyFile)}] ${repo.uri} ${repo.suite} ${repo.components.join(" ")}`;
}

export const bootstrapStage: StageDefinition<BootstrapOptions> = {
  id: "bootstrap",
  title: "Bootstrap the live root (mmdebstrap)",
  tools: ["mmdebstrap", "unshare"],
  module: import.meta.url,
  async run(ctx, o) {
    const keyrings = join(ctx.tmpDir, "keyrings");
    await mkdir(keyrings, { recursive: true });
    await Promise.all(
      o.repositories.map((r, i) => copyFile(r.keyFile, join(keyrings, keyringName(i, r.keyFile)))),
    );
    await mkdir(ctx.aptCacheDir, { recursive: true });
    const argv = mmdebstrapArgv({
      suite: o.suite,
      mirror: o.mirror,
      components: o.components,
      packages: o.packages,
      extraSources: o.repositories.map(sourcesLine),
      arch: o.arch,
      setupHooks: [join(libexecDir, "mmdebstrap-setup")],
      customizeHooks: [join(libexecDir, "mmdebstrap-customize")],
      target: join(ctx.outDir, "root"),
    });
    await run(inPrivateMountNamespace(argv), {
      env: {
        ATOMISO_APT_CACHE: ctx.aptCacheDir,
        ATOMISO_KEYRINGS: keyrings,
        ATOMISO_INITRAMFS: join(packageRoot, "installer-scripts/initramfs"),
        // Set or cleared explicitly: an inherited value would change the tree behind the key.
        SOURCE_DATE_EPOCH: o.epoch !== undefined ? String(o.epoch) : undefined,
      },
      hint: "check that the mirror is reachable and every package name exists in the suite (apt-cache policy <name>)",
      onLine: (line) => {
        ctx.reporter.detail(line);
        if (line.startsWith("atomiso: package cache") || line.startsWith("atomiso: live root"))
          ctx.reporter.info(line.replace("atomiso: ", ""));
        const p = mmdebstrapProgress(line);
        if (p !== undefined) ctx.reporter.progress(p, line.replace(/^I: /, ""));
      },
    });
  },
};
