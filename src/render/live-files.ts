// The files atomiso adds to the live root: SDDM autologin into an X11 session that runs
// Calamares as root, the live user's sudo rule, the boot-marker service and os-release; with
// [image.signing] the publisher's key and the containers policy that requires its signature.
import { readdirSync, readFileSync } from "node:fs";
import { IGNORED_NAMES } from "../cache/hash.js";
import { renderSigningFiles } from "../image/signing.js";
import { INSTALL_PLAN_ON_MEDIUM, INSTALL_PLAN_PATH } from "../install/install-plan.js";
import { packageRoot } from "../paths.js";
import { desktopEntryValue } from "./escape/desktop-entry.js";
import { osReleaseValue } from "./escape/os-release.js";
import type { RenderedFile } from "./file-tree.js";
import { toIni } from "./ini.js";
import { DEFAULT_BACKGROUND, renderLiveSessionFiles } from "./live-session.js";
import { renderLiveSplashFiles, X_AFTER_SPLASH } from "./live-splash.js";
import { renderLiveSshFiles } from "./live-ssh.js";

export interface LiveFilesOptions {
  productName: string;
  productId: string;
  productVersion: string;
  productUrl?: string;
  suite: string;
  user: string;
  /** [image.signing]: installs accept only images signed by this key. */
  signing?: LiveSigningOptions;
  /** [live] ssh_keys: an SSH server for these keys (live-ssh.ts). */
  sshKeys?: string[];
  /** [live] accessibility: the screen reader's key (live-session.ts). */
  accessibility?: boolean;
  /** [branding] sidebar_background: the session's screen and tray (live-session.ts). */
  background?: string;
  /** [live] splash: Plymouth's theme and configuration (live-splash.ts). */
  splash?: boolean;
}

export interface LiveSigningOptions {
  fingerprint: string;
  /** Absolute path of the public key file. */
  publicKey: string;
  reference: string;
  track?: string;
  lookaside?: string;
}

const SESSION = "atomiso-installer";
const CALAMARES_MODULES = "usr/lib/x86_64-linux-gnu/calamares/modules";
/** Repository folders whose files are installed as they are (in the stage's derived code closure). */
export const LIVE_FILE_SOURCES = [
  "installer-scripts/live",
  "installer-scripts/deploy",
  "installer-scripts/install",
  "installer-scripts/atomiso_live",
  "calamares/modules",
];
/** The live-system Python package both installers import (Debian's python3 and Calamares'
 * embedded interpreter both search dist-packages). */
const PYTHON_PACKAGE = "usr/lib/python3/dist-packages/atomiso_live";

function repoFile(source: string, target: string, mode = 0o644): RenderedFile {
  return { path: target, content: readFileSync(`${packageRoot}${source}`), mode };
}

/** Every file of a repository folder (recursively), placed under `target`. */
function repoFolder(
  source: string,
  target: string,
  mode: (name: string) => number,
): RenderedFile[] {
  return readdirSync(`${packageRoot}${source}`, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && !e.parentPath.split("/").some((d) => IGNORED_NAMES.has(d)))
    .map((e) => {
      const rel = `${e.parentPath.slice(`${packageRoot}${source}`.length)}/${e.name}`.replace(
        /^\//,
        "",
      );
      return repoFile(`${source}/${rel}`, `${target}/${rel}`, mode(e.name));
    })
    .sort((a, b) => a.path.localeCompare(b.path));
}

function script(name: string, target: string): RenderedFile {
  return repoFile(`installer-scripts/live/${name}`, target, 0o755);
}

/** The installers: deploy backends, the unattended installer, the Calamares job modules. */
function installerFiles(): RenderedFile[] {
  return [
    ...repoFolder("installer-scripts/deploy", "usr/lib/atomiso/deploy", () => 0o755),
    ...repoFolder("installer-scripts/install", "usr/lib/atomiso/install", (n) =>
      n.endsWith(".py") ? 0o644 : 0o755,
    ),
    ...repoFolder("installer-scripts/atomiso_live", PYTHON_PACKAGE, () => 0o644),
    ...repoFolder("calamares/modules", CALAMARES_MODULES, () => 0o644),
    script("check-payload", "usr/libexec/atomiso/check-payload"),
    script("unattended", "usr/libexec/atomiso/unattended"),
    // The plan travels on the medium beside the payload (absent on a --no-payload ISO).
    { path: INSTALL_PLAN_PATH, content: "", symlink: INSTALL_PLAN_ON_MEDIUM },
    {
      path: "usr/lib/systemd/system/atomiso-unattended.service",
      content: toIni({
        Unit: {
          Description: "Unattended install (atomiso.answer= on the kernel command line)",
          ConditionKernelCommandLine: "atomiso.answer",
          After: "local-fs.target systemd-udevd.service",
        },
        Service: {
          Type: "oneshot",
          ExecStart: "/usr/libexec/atomiso/unattended",
          StandardOutput: "journal",
          StandardError: "journal",
        },
        Install: { WantedBy: "multi-user.target" },
      }),
    },
    // An unattended install runs without X: no display manager, no installer session. Its
    // progress owns tty1 and ttyS0: a getty there hangs up the service's open terminals when
    // it starts and stops (seen as lost and replayed lines on the serial console). tty2 still
    // offers a login after a failure.
    ...["sddm.service", "getty@tty1.service", "serial-getty@ttyS0.service"].map((unit) => ({
      path: `etc/systemd/system/${unit}.d/10-atomiso-unattended.conf`,
      content: toIni({ Unit: { ConditionKernelCommandLine: "!atomiso.answer" } }),
    })),
  ];
}

export function renderLiveFiles(o: LiveFilesOptions): RenderedFile[] {
  const background = o.background ?? DEFAULT_BACKGROUND;
  // The name is written unquoted into sudoers and SDDM's config (the schema allows no more).
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(o.user))
    throw new Error(`live user ${JSON.stringify(o.user)} is not a plain user name`);
  const osRelease: Record<string, string> = {
    NAME: `${o.productName} Live`,
    PRETTY_NAME: `${o.productName} ${o.productVersion} Installer (Debian ${o.suite})`,
    ID: o.productId,
    ID_LIKE: "debian",
    VERSION: o.productVersion,
    VERSION_ID: o.productVersion,
    VARIANT: "Live installer",
    VARIANT_ID: "live",
    ...(o.productUrl ? { HOME_URL: o.productUrl } : {}),
  };
  return [
    {
      path: "etc/sddm.conf.d/10-atomiso-autologin.conf",
      content: toIni({
        General: { DisplayServer: "x11" },
        Autologin: { User: o.user, Session: `${SESSION}.desktop`, Relogin: true },
        // The session script sets up what it needs itself: Debian's Xsession (SDDM's default
        // wrapper) runs a dozen scripts first, seconds in a slow virtual machine.
        X11: { SessionCommand: "/usr/libexec/atomiso/installer-session" },
      }),
    },
    {
      path: `usr/share/xsessions/${SESSION}.desktop`,
      content: toIni(
        {
          "Desktop Entry": {
            Type: "Application",
            Name: `${o.productName} Installer`,
            Comment: `Install ${o.productName}`,
            Exec: "/usr/libexec/atomiso/installer-session",
          },
        },
        desktopEntryValue,
      ),
    },
    // An install takes many minutes without input: never blank the screen meanwhile.
    {
      path: "etc/X11/xorg.conf.d/10-atomiso-noblank.conf",
      content: [
        'Section "ServerFlags"',
        '    Option "BlankTime" "0"',
        '    Option "StandbyTime" "0"',
        '    Option "SuspendTime" "0"',
        '    Option "OffTime" "0"',
        "EndSection",
        "",
      ].join("\n"),
    },
    // The journal stays in /run: /var is the same tmpfs overlay in a live system, so a persistent
    // journal kept nothing longer and cost a flush (systemd-journal-flush) at every boot.
    {
      path: "etc/systemd/journald.conf.d/10-atomiso-live.conf",
      content: toIni({ Journal: { Storage: "volatile" } }),
    },
    {
      path: "etc/sudoers.d/10-atomiso-live",
      content: `${o.user} ALL=(ALL:ALL) NOPASSWD: ALL\n`,
      mode: 0o440,
    },
    {
      path: "usr/lib/systemd/system/atomiso-live-marker.service",
      content: toIni({
        Unit: {
          Description: "Report live boot progress on the serial console",
          After: "display-manager.service",
          ConditionKernelCommandLine: "!atomiso.answer",
        },
        Service: { Type: "simple", ExecStart: "/usr/libexec/atomiso/live-marker" },
        Install: { WantedBy: "graphical.target" },
      }),
    },
    {
      path: "etc/os-release",
      content: `${Object.entries(osRelease)
        .map(([k, v]) => `${k}=${osReleaseValue(v)}`)
        .join("\n")}\n`,
    },
    script("ckbcomp-cached", "usr/local/bin/ckbcomp"),
    script("disk-list", "usr/libexec/atomiso/disk-list"),
    script("installer-session", "usr/libexec/atomiso/installer-session"),
    script("live-marker", "usr/libexec/atomiso/live-marker"),
    script("openbox-rc", "usr/libexec/atomiso/openbox-rc"),
    script("screen-reader", "usr/libexec/atomiso/screen-reader"),
    ...installerFiles(),
    ...(o.signing
      ? renderSigningFiles({ ...o.signing, publicKey: readFileSync(o.signing.publicKey) })
      : []),
    ...renderLiveSshFiles(o.user, o.sshKeys ?? []),
    ...renderLiveSessionFiles(o.user, o.accessibility === true, background),
    ...(o.splash
      ? [
          script("x-after-splash", X_AFTER_SPLASH.slice(1)),
          ...renderLiveSplashFiles(o.productId, background),
        ]
      : []),
  ];
}
