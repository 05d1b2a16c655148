// [live] splash: the Plymouth theme and configuration (src/render/live-splash.ts), the package,
// and `splash` on the install entries' kernel command line only.
import { describe, expect, it } from "vitest";
import { renderGrubCfg } from "../../src/render/grub-cfg.js";
import { renderLiveFiles } from "../../src/render/live-files.js";
import { SPLASH_THEME_DIR } from "../../src/render/live-splash.js";
import { livePackages } from "../../src/stages/bootstrap.js";
import { EXAMPLE_LIVE, fileText } from "./helpers/live-files.js";
import { readGrubCfg } from "./helpers/read-back.js";

const base = { ...EXAMPLE_LIVE, background: "#16324f" };

describe("the boot splash", () => {
  it("is a script theme showing Calamares' logo on the branding's colour", () => {
    const files = renderLiveFiles({ ...base, splash: true });
    const theme = fileText(files, `${SPLASH_THEME_DIR}/atomiso.plymouth`);
    expect(theme).toContain("ModuleName=script");
    expect(theme).toContain("ImageDir=/etc/calamares/branding/particleos\n");
    expect(theme).toContain(`ScriptFile=/${SPLASH_THEME_DIR}/atomiso.script\n`);
    const script = fileText(files, `${SPLASH_THEME_DIR}/atomiso.script`);
    // #16324f: 0x16/255, 0x32/255, 0x4f/255.
    expect(script).toContain("Window.SetBackgroundTopColor(0.086, 0.196, 0.310);");
    expect(script).toContain("Window.SetBackgroundBottomColor(0.086, 0.196, 0.310);");
    expect(script).toContain('Image("logo.png")');
    expect(fileText(files, "etc/plymouth/plymouthd.conf")).toBe(
      "[Daemon]\nTheme=atomiso\nDeviceTimeout=30\n",
    );
    // SDDM's X server ends the splash; plymouth-quit only in an unattended boot.
    expect(fileText(files, "etc/sddm.conf.d/20-atomiso-splash.conf")).toBe(
      "[X11]\nServerPath=/usr/libexec/atomiso/x-after-splash\n",
    );
    const wrapper = fileText(files, "usr/libexec/atomiso/x-after-splash");
    expect(wrapper).toContain("plymouth quit --retain-splash");
    expect(wrapper).toContain('exec /usr/bin/X "$@"');
    for (const unit of ["plymouth-quit.service", "plymouth-quit-wait.service"]) {
      expect(fileText(files, `etc/systemd/system/${unit}.d/20-atomiso-splash.conf`)).toBe(
        "[Unit]\nConditionKernelCommandLine=atomiso.answer\n",
      );
    }
  });

  it("is not there, nor Plymouth, without [live] splash", () => {
    const files = renderLiveFiles(base);
    expect(files.filter((f) => /plymouth|splash/.test(f.path))).toEqual([]);
    const needs = { backend: "ostree", payload: "embedded" } as const;
    expect(livePackages(needs, [])).not.toContain("plymouth");
    expect(livePackages(needs, [], { splash: true })).toContain("plymouth");
  });

  it("refuses a product id or colour that is not plain", () => {
    expect(() => renderLiveFiles({ ...base, productId: "../x", splash: true })).toThrow(
      /not a plain name/,
    );
    expect(() => renderLiveFiles({ ...base, background: "red", splash: true })).toThrow(
      /not a #rrggbb colour/,
    );
  });

  it("asks for the splash in the install entries, never in the debug entry", () => {
    const entries = (splash: boolean) =>
      readGrubCfg(
        renderGrubCfg({ productName: "ParticleOS", timeout: 5, extraKernelArgs: [], splash }),
      );
    const on = entries(true);
    // The menu's linux lines come in its entries' order.
    const args = (id: string, cfg: ReturnType<typeof readGrubCfg>) =>
      cfg.linux[cfg.entries.findIndex((e) => e.id === id)] ?? [];
    for (const entry of ["install", "high-contrast"]) {
      expect(args(entry, on)).toEqual(
        expect.arrayContaining(["splash", "plymouth.ignore-serial-consoles"]),
      );
    }
    expect(args("debug", on)).not.toContain("splash");
    expect(args("install", entries(false))).not.toContain("splash");
  });
});
