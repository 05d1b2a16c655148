// The ISO's GRUB menu: "Install <product>" and a debug entry with a root shell on ttyS0. Every
// profile string is a GRUB word quoted by grubWord (the schema restricts them already).
import { renderTemplate } from "./ejs.js";
import { grubComment, grubString, grubWord } from "./escape/grub.js";

export interface GrubCfgOptions {
  productName: string;
  timeout: number;
  extraKernelArgs: string[];
}

/**
 * Kernel arguments of the live system. The serial console comes first so tty0 stays
 * /dev/console. nonetworking: live-boot's initramfs would write an ifupdown
 * /etc/network/interfaces (the live root has no /etc/network: systemd-networkd configures the
 * wired network, see live-files.ts) after another udev trigger and settle; it is for net-booted
 * roots, which a live ISO is not.
 */
export function liveKernelArgs(extra: readonly string[], debug: boolean): string[] {
  const base = ["boot=live", "nonetworking", "console=ttyS0,115200", "console=tty0"];
  if (debug) return [...base, "systemd.debug_shell=ttyS0", "systemd.log_level=info", ...extra];
  return [...base, "quiet", ...extra];
}

export function renderGrubCfg(o: GrubCfgOptions): string {
  if (!Number.isInteger(o.timeout) || o.timeout < 0) throw new Error("bad GRUB timeout");
  return renderTemplate("src/render/templates/grub.cfg.ejs", {
    comment: grubComment(o.productName),
    timeout: o.timeout,
    installTitle: grubString(`Install ${o.productName}`),
    debugTitle: grubString(`Install ${o.productName} (debug: root shell on serial console)`),
    loading: grubString(`Loading ${o.productName} installer...`),
    installArgs: liveKernelArgs(o.extraKernelArgs, false).map(grubWord).join(" "),
    debugArgs: liveKernelArgs(o.extraKernelArgs, true).map(grubWord).join(" "),
  });
}
