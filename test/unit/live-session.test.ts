// The installer session's network, tray, window, background, screen reader and high-contrast
// files (src/render/live-session.ts), the packages behind them, and the high-contrast boot entry.
import { describe, expect, it } from "vitest";
import { HIGH_CONTRAST_ARG, renderGrubCfg } from "../../src/render/grub-cfg.js";
import { renderLiveFiles } from "../../src/render/live-files.js";
import {
  OPENBOX_FRAGMENTS,
  renderLiveSessionFiles,
  SCREEN_READER_KEY,
  SESSION_BACKGROUND,
} from "../../src/render/live-session.js";
import { ACCESSIBILITY_PACKAGES, BASE_PACKAGES, livePackages } from "../../src/stages/bootstrap.js";
import { EXAMPLE_LIVE, fileText } from "./helpers/live-files.js";
import { readGrubCfg } from "./helpers/read-back.js";

describe("live session files", () => {
  it("gives every NIC to NetworkManager, none to systemd-networkd", () => {
    const files = renderLiveFiles(EXAMPLE_LIVE);
    const conf = fileText(files, "etc/NetworkManager/conf.d/10-atomiso-live.conf");
    expect(conf).toContain("[main]\nplugins=keyfile\ndns=default\nrc-manager=file\n");
    expect(conf).toContain("[keyfile]\nunmanaged-devices=none\n");
    expect(files.filter((f) => f.path.startsWith("etc/systemd/network/"))).toEqual([]);
    expect(BASE_PACKAGES).toEqual(
      expect.arrayContaining(["network-manager", "wpasupplicant", "nm-tray", "stalonetray"]),
    );
    // What an installer does not need stays out (mmdebstrap installs no recommendations).
    for (const p of ["modemmanager", "ppp", "network-manager-openvpn", "qterminal"])
      expect(BASE_PACKAGES).not.toContain(p);
  });

  it("gives the tray applet an icon for every name it asks for (no icon theme in the live root)", () => {
    const files = renderLiveSessionFiles("live", false);
    // nm-tray's names (src/icons.cpp: the plain ones after the -symbolic ones no theme has).
    const names = [
      "network-offline",
      "network-wired",
      "network-wired-disconnected",
      "network-wireless-disconnected",
      "network-wireless-acquiring",
      ...["none", "weak", "ok", "good", "excellent"].map((s) => `network-wireless-signal-${s}`),
    ];
    for (const name of names) {
      const png = files.find((f) => f.path === `usr/share/pixmaps/${name}.png`)?.content;
      if (!(png instanceof Uint8Array)) throw new Error(`no icon ${name}`);
      const b = Buffer.from(png);
      expect(b.subarray(1, 4).toString("ascii")).toBe("PNG");
      expect([b.readUInt32BE(16), b.readUInt32BE(20)]).toEqual([24, 24]);
    }
  });

  it("lets only the live user change NetworkManager's connections without a password", () => {
    const rule = fileText(
      renderLiveSessionFiles("installer", false),
      "etc/polkit-1/rules.d/50-atomiso-live-network.rules",
    );
    expect(rule).toContain('action.id.indexOf("org.freedesktop.NetworkManager.") === 0');
    expect(rule).toContain('subject.user === "installer"');
    expect(() => renderLiveSessionFiles('x"); polkit.Result.YES; ("', false)).toThrow(
      /not a plain user name/,
    );
  });

  it("binds the screen reader's key only with [live] accessibility", () => {
    const keyboard = (a: boolean) =>
      fileText(renderLiveSessionFiles("live", a), `${OPENBOX_FRAGMENTS}/keyboard.xml`);
    expect(SCREEN_READER_KEY).toBe("W-A-s");
    expect(keyboard(true)).toContain('<keybind key="W-A-s">');
    expect(keyboard(true)).toContain(
      "<command>/usr/libexec/atomiso/screen-reader toggle</command>",
    );
    expect(keyboard(false)).toBe("");
    const apps = fileText(
      renderLiveSessionFiles("live", false),
      `${OPENBOX_FRAGMENTS}/applications.xml`,
    );
    expect(apps).toContain('<application class="stalonetray">');
    expect(apps).toContain("<focus>no</focus>");
  });

  it("maximises the installer's main window and paints the screen in the branding's colour", () => {
    const apps = fileText(
      renderLiveSessionFiles("live", false),
      `${OPENBOX_FRAGMENTS}/applications.xml`,
    );
    expect(apps).toContain(
      '<application name="calamares" type="normal">\n      <maximized>yes</maximized>',
    );
    const files = renderLiveFiles({ ...EXAMPLE_LIVE, background: "#16324f" });
    expect(fileText(files, SESSION_BACKGROUND)).toBe("#16324f\n");
    expect(fileText(renderLiveSessionFiles("live", false), SESSION_BACKGROUND)).toBe("#000000\n");
    expect(BASE_PACKAGES).toContain("hsetroot");
    // installer-session reads the file into an argument: nothing but a colour may be in it.
    for (const bad of ["#16324f; reboot", "$(reboot)", "16324f", "#16324f\n"]) {
      expect(() => renderLiveSessionFiles("live", false, bad)).toThrow(/not a #rrggbb colour/);
    }
  });

  it("installs Orca and its speech only with [live] accessibility", () => {
    const needs = { backend: "ostree", payload: "embedded" } as const;
    expect(livePackages(needs, [])).not.toContain("orca");
    const withReader = livePackages(needs, [], { accessibility: true });
    for (const p of ACCESSIBILITY_PACKAGES) expect(withReader).toContain(p);
    expect(withReader).toContain("speech-dispatcher-espeak-ng");
  });

  it("writes a complete high-contrast palette for qt6ct", () => {
    const files = renderLiveSessionFiles("live", false);
    const conf = fileText(files, "usr/share/atomiso/high-contrast/qt6ct/qt6ct.conf");
    expect(conf).toContain(
      "color_scheme_path=/usr/share/atomiso/high-contrast/qt6ct/colors/atomiso-high-contrast.conf",
    );
    expect(conf).toContain("custom_palette=true");
    const scheme = fileText(
      files,
      "usr/share/atomiso/high-contrast/qt6ct/colors/atomiso-high-contrast.conf",
    );
    for (const group of ["active_colors", "inactive_colors", "disabled_colors"]) {
      const line = scheme.split("\n").find((l) => l.startsWith(`${group}=`));
      const colors = (line ?? "").slice(group.length + 1).split(", ");
      // One colour per QPalette role qt6ct reads (WindowText … PlaceholderText).
      expect(colors).toHaveLength(21);
      for (const c of colors) expect(c).toMatch(/^#ff[0-9a-f]{6}$/);
      // White (or light grey when disabled) text on a black window and base.
      expect(colors[10]).toBe("#ff000000");
      expect(colors[9]).toBe("#ff000000");
      expect(["#ffffffff", "#ffb0b0b0"]).toContain(colors[0]);
    }
  });

  it("offers a high-contrast boot entry with the installer's arguments", () => {
    const menu = readGrubCfg(
      renderGrubCfg({ productName: "ParticleOS", timeout: 5, extraKernelArgs: ["splash"] }),
    );
    expect(menu.entries.map((e) => e.id)).toEqual([
      "install",
      "high-contrast",
      "debug",
      "uefi-firmware",
    ]);
    expect(menu.entries[1]?.title).toBe("Install ParticleOS (high contrast)");
    // The same arguments with the high-contrast one before the profile's (still last).
    const install = menu.linux[0] ?? [];
    expect(menu.linux[1]).toEqual([...install.slice(0, -1), HIGH_CONTRAST_ARG, "splash"]);
  });
});
