import { describe, expect, it } from "vitest";
import { renderGrubCfg } from "../../src/render/grub-cfg.js";
import { renderLiveFiles } from "../../src/render/live-files.js";
import { EXAMPLE_LIVE } from "./helpers/live-files.js";

describe("live files", () => {
  const files = renderLiveFiles(EXAMPLE_LIVE);
  const get = (p: string) => {
    const f = files.find((x) => x.path === p);
    if (!f) throw new Error(`missing ${p}`);
    return f;
  };

  it("autologs the live user into the X11 installer session", () => {
    const sddm = String(get("etc/sddm.conf.d/10-atomiso-autologin.conf").content);
    expect(sddm).toContain("[Autologin]\nUser=live\nSession=atomiso-installer.desktop");
    expect(sddm).toContain("DisplayServer=x11");
    // Straight into the session script, not through Debian's Xsession scripts.
    expect(sddm).toContain("[X11]\nSessionCommand=/usr/libexec/atomiso/installer-session");
    expect(String(get("usr/share/xsessions/atomiso-installer.desktop").content)).toContain(
      "Exec=/usr/libexec/atomiso/installer-session",
    );
    expect(get("usr/libexec/atomiso/installer-session").mode).toBe(0o755);
    // Ahead of /usr/bin/ckbcomp in PATH: the keyboard preview's output kept at build time.
    expect(get("usr/local/bin/ckbcomp").mode).toBe(0o755);
  });

  it("gives the live user a sudo rule with sudoers permissions", () => {
    const rule = get("etc/sudoers.d/10-atomiso-live");
    expect(rule.content).toBe("live ALL=(ALL:ALL) NOPASSWD: ALL\n");
    expect(rule.mode).toBe(0o440);
  });

  it("keeps the journal in /run (no flush to the overlay's /var at boot)", () => {
    expect(get("etc/systemd/journald.conf.d/10-atomiso-live.conf").content).toBe(
      "[Journal]\nStorage=volatile\n",
    );
  });

  it("installs atomiso_live into dist-packages, where python3 and Calamares find it", () => {
    const dir = "usr/lib/python3/dist-packages/atomiso_live/";
    const pkg = files.filter((f) => f.path.startsWith(dir)).map((f) => f.path.slice(dir.length));
    for (const m of ["__init__.py", "plan.py", "backend.py", "target.py", "proc.py", "mounts.py"]) {
      expect(pkg).toContain(m);
    }
    expect(pkg.filter((p) => p.includes("__pycache__"))).toEqual([]);
  });

  it("names the product in os-release", () => {
    expect(String(get("etc/os-release").content)).toContain(
      'PRETTY_NAME="ParticleOS 0.1.0 Installer (Debian trixie)"',
    );
  });

  it("renders a GRUB menu with the install and debug entries", () => {
    const cfg = renderGrubCfg({
      productName: "ParticleOS",
      timeout: 5,
      extraKernelArgs: ["splash"],
    });
    expect(cfg).toMatch(
      /menuentry "Install ParticleOS" --id install \{\n.*\n {2}linux \/live\/vmlinuz boot=live .*quiet atomiso\.toram=\$\{atomiso_toram\} splash\n/,
    );
    expect(cfg).toContain("systemd.debug_shell=ttyS0");
    expect(cfg).toContain("set timeout=5");
  });
});
