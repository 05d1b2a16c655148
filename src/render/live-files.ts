// The files atomiso adds to the live root: SDDM autologin into an X11 session that runs
// Calamares as root, the live user's sudo rule, the boot-marker service and os-release.
import { readFileSync } from "node:fs";
import { packageRoot } from "../paths.js";
import type { RenderedFile } from "./file-tree.js";
import { toIni } from "./ini.js";

export interface LiveFilesOptions {
  productName: string;
  productId: string;
  productVersion: string;
  productUrl?: string;
  suite: string;
  user: string;
}

const SESSION = "atomiso-installer";

function script(name: string, target: string): RenderedFile {
  return {
    path: target,
    content: readFileSync(`${packageRoot}installer-scripts/live/${name}`),
    mode: 0o755,
  };
}

function quoteOsRelease(value: string): string {
  return `"${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}

export function renderLiveFiles(o: LiveFilesOptions): RenderedFile[] {
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
      }),
    },
    {
      path: `usr/share/xsessions/${SESSION}.desktop`,
      content: toIni({
        "Desktop Entry": {
          Type: "Application",
          Name: `${o.productName} Installer`,
          Comment: `Install ${o.productName}`,
          Exec: "/usr/libexec/atomiso/installer-session",
        },
      }),
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
        },
        Service: { Type: "simple", ExecStart: "/usr/libexec/atomiso/live-marker" },
        Install: { WantedBy: "graphical.target" },
      }),
    },
    {
      path: "etc/os-release",
      content: `${Object.entries(osRelease)
        .map(([k, v]) => `${k}=${quoteOsRelease(v)}`)
        .join("\n")}\n`,
    },
    script("installer-session", "usr/libexec/atomiso/installer-session"),
    script("live-marker", "usr/libexec/atomiso/live-marker"),
    script("no-payload", "usr/libexec/atomiso/no-payload"),
  ];
}
