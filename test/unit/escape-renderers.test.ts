// Each renderer fed hostile strings directly (bypassing the schema): its output must parse with
// the target's own parser and read back exactly what went in, or the escaper must refuse.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { renderCalamares } from "../../src/render/calamares/render.js";
import { desktopEntryValue } from "../../src/render/escape/desktop-entry.js";
import { grubString, grubWord } from "../../src/render/escape/grub.js";
import { iniValue } from "../../src/render/escape/ini.js";
import { osReleaseValue } from "../../src/render/escape/os-release.js";
import { qmlString } from "../../src/render/escape/qml.js";
import { qssComment } from "../../src/render/escape/qss.js";
import { renderGrubCfg } from "../../src/render/grub-cfg.js";
import { renderLiveFiles } from "../../src/render/live-files.js";
import {
  evalJsString,
  qssRules,
  readDesktopEntry,
  readGrubCfg,
  readOsRelease,
  readQml,
  readYaml,
} from "./helpers/read-back.js";

/** Strings no schema check is assumed to have seen (control characters are refused below). */
const HOSTILE_TEXT = [
  'ACME "Quoted" OS',
  '")+Qt.quit()+("',
  "'); Qt.quit(); ('",
  "*/ QWidget { background: url(/etc/shadow) } /*",
  "$(reboot) ${root} `id` $prefix",
  "Back\\slash\\",
  "\\n\\t\\s\\\\ not escapes",
  "Name=Evil; [Desktop Entry] Exec=/bin/sh",
  "} menuentry evil { linux /evil",
  "quiet; reboot; echo",
  '<img src="file:///etc/shadow"><b>bold</b>',
  "Ünïcödé 名前 🚀",
  "%s %n %x %%",
  "#not a comment",
  " leading and trailing ",
  "' single",
  "a\\",
];
const CONTROL = ["a\nb", "a\u0000b", "a\u001b[31mb", "a\rb", "a\tb", "a\u2028b", "a\u0085b"];

const branding = join(import.meta.dirname, "../../examples/particleos/branding");
const base = parseConfig(
  '[product]\nname = "X"\nid = "x"\n[iso]\nvolume_id = "X"\n',
  "atomiso.toml",
);

describe("escapers refuse control characters", () => {
  for (const escaper of [
    grubString,
    grubWord,
    qmlString,
    qssComment,
    desktopEntryValue,
    iniValue,
    osReleaseValue,
  ]) {
    it(escaper.name, () => {
      for (const s of CONTROL) expect(() => escaper(s), JSON.stringify(s)).toThrow(/U\+00|U\+20/);
    });
  }
  it("renderers refuse a control character in the product name", async () => {
    expect(() => renderGrubCfg({ productName: "a\nb", timeout: 5, extraKernelArgs: [] })).toThrow();
    expect(() =>
      renderLiveFiles({
        productName: "a\u0000b",
        productId: "x",
        productVersion: "1",
        suite: "trixie",
        user: "live",
      }),
    ).toThrow();
  });
});

describe("hostile strings read back unchanged", () => {
  it("grub.cfg: grub-script-check accepts it, titles, echo and kernel arguments read back", () => {
    for (const name of HOSTILE_TEXT) {
      const args = ["console=ttyS0,115200", name];
      const cfg = readGrubCfg(
        renderGrubCfg({ productName: name, timeout: 5, extraKernelArgs: args }),
      );
      expect(cfg.entries.map((e) => e.title)).toEqual([
        `Install ${name}`,
        `Install ${name} (high contrast)`,
        `Install ${name} (debug: root shell on serial console)`,
        "UEFI firmware settings",
      ]);
      expect(cfg.entries.map((e) => e.id)).toEqual([
        "install",
        "high-contrast",
        "debug",
        "uefi-firmware",
      ]);
      expect(cfg.echo).toEqual([`Loading ${name} installer...`]);
      for (const linux of cfg.linux) expect(linux.slice(-2)).toEqual(args);
    }
  }, 60_000);

  it("the installer session's desktop entry: desktop-file-validate accepts it, Name reads back", () => {
    for (const name of HOSTILE_TEXT) {
      const files = renderLiveFiles({
        productName: name,
        productId: "x",
        productVersion: "1",
        suite: "trixie",
        user: "live",
      });
      const desktop = files.find((f) => f.path.endsWith("atomiso-installer.desktop"));
      const entry = readDesktopEntry(String(desktop?.content));
      expect(entry.Name).toBe(`${name} Installer`);
      expect(entry.Comment).toBe(`Install ${name}`);
      expect(entry.Exec).toBe("/usr/libexec/atomiso/installer-session");
      expect(Object.keys(entry).sort()).toEqual(["Comment", "Exec", "Name", "Type"]);
    }
  }, 60_000);

  it("os-release: Python's parser and sh read the same values back", () => {
    for (const name of HOSTILE_TEXT) {
      const files = renderLiveFiles({
        productName: name,
        productId: "x",
        productVersion: "1.0",
        productUrl: "https://example.org/?a=1&b=$x",
        suite: "trixie",
        user: "live",
      });
      const osRelease = readOsRelease(
        String(files.find((f) => f.path === "etc/os-release")?.content),
      );
      expect(osRelease.NAME).toBe(`${name} Live`);
      expect(osRelease.PRETTY_NAME).toBe(`${name} 1.0 Installer (Debian trixie)`);
      expect(osRelease.HOME_URL).toBe("https://example.org/?a=1&b=$x");
      expect(osRelease.ID).toBe("x");
    }
  }, 60_000);

  it("show.qml, stylesheet.qss and branding.desc: literals, rules and YAML read back", async () => {
    const benign = await calamares("Benign", "caption");
    for (const name of HOSTILE_TEXT) {
      const files = await calamares(name, name);
      const qml = readQml(files["show.qml"] ?? "");
      // Same structure as a benign render: nothing escaped a string literal.
      expect(qml.structure).toBe(readQml(benign["show.qml"] ?? "").structure);
      expect(qml.strings).toContain(name);
      const noSlides = readQml((await calamares(name, undefined))["show.qml"] ?? "");
      expect(noSlides.strings).toContain(`Installing ${name}…`);
      expect(qssRules(files["stylesheet.qss"] ?? "")).toBe("\n#mainApp { font-size: 11pt; }\n");
      const desc = readYaml(files["branding.desc"] ?? "") as { strings: Record<string, string> };
      expect(desc.strings.productName).toBe(name);
      expect(desc.strings.versionedName).toBe(`${name} 1.0`);
    }
  });

  it("a QML string literal evaluates to its value for every code unit class", () => {
    const all = Array.from({ length: 0x300 }, (_, i) => String.fromCharCode(i))
      .filter((c) => !/\p{Cc}/u.test(c))
      .join("");
    expect(evalJsString(qmlString(all))).toBe(all);
  });
});

async function calamares(
  name: string,
  caption: string | undefined,
): Promise<Record<string, string>> {
  const files = await renderCalamares({
    productName: name,
    productId: "x",
    productVersion: "1.0",
    sidebarBackground: "#000000",
    sidebarText: "#ffffff",
    brandingDir: branding,
    images: { logo: "logo.png", icon: "icon.png", welcome: "welcome.png" },
    slides: caption === undefined ? [] : [{ image: "slide-atomic.png", caption }],
    installer: base.installer,
  });
  return Object.fromEntries(
    files
      .filter((f) => typeof f.content === "string")
      .map((f) => [f.path.split("/").pop() ?? f.path, String(f.content)]),
  );
}
