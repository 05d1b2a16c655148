// What the boot tier checks after an install beside Windows (test/boot/install.test.ts,
// installer-walk.test.ts), read on the host from the powered-off guest's disk and VARS file:
// Windows' files unchanged and NTFS consistent, the firmware's BootOrder with the new system
// first and Windows Boot Manager still in it, and the installed GRUB menu offering Windows.
import { expect } from "vitest";
import {
  type BootEntry,
  bootConfig,
  orderedEntries,
  readVarStore,
} from "../../src/qemu/ovmf-vars.js";
import {
  readInstalledGrubCfg,
  verifyWindowsDisk,
  WINDOWS_BOOT_MANAGER,
  type WindowsDiskCheck,
  type WindowsDiskRecord,
} from "./windows-disk.js";

export interface DualBootFindings {
  windows: WindowsDiskCheck;
  /** The firmware's boot entries in BootOrder's order. */
  bootOrder: BootEntry[];
  grubCfg: string;
}

export async function dualBootFindings(
  image: string,
  record: WindowsDiskRecord,
  varsFile: string,
): Promise<DualBootFindings> {
  return {
    windows: await verifyWindowsDisk(image, record),
    bootOrder: orderedEntries(bootConfig(await readVarStore(varsFile))),
    grubCfg: await readInstalledGrubCfg(image, record),
  };
}

/** One line per boot entry, for messages and logs. */
export function describeBootOrder(entries: BootEntry[]): string {
  return entries
    .map((e) => `Boot${e.number.toString(16).padStart(4, "0")} ${e.description}: ${e.path}`)
    .join("\n");
}

/** `label`: the name the new system's firmware entry must carry (its os-release NAME). */
export function expectDualBoot(
  f: DualBootFindings,
  record: WindowsDiskRecord,
  label: string,
): void {
  expect(f.windows.differences, `Windows changed:\n${f.windows.differences.join("\n")}`).toEqual(
    [],
  );
  const order = describeBootOrder(f.bootOrder);
  // The new system's entry: its own folder on Windows' ESP (reused, not a new one), shim or
  // GRUB; never Windows' folder or the removable path.
  const esp = `HD(${record.esp.number},GPT,${record.esp.partitionGuid},`;
  const first = f.bootOrder[0];
  expect(first?.path, `BootOrder:\n${order}`).toContain(esp);
  expect(first?.path, `BootOrder:\n${order}`).toMatch(
    /File\(\\EFI\\(?!Microsoft\\|BOOT\\)[^\\]+\\(shim|grub)x64\.efi\)$/i,
  );
  expect(first?.description, `BootOrder:\n${order}`).toBe(label);
  expect(
    f.bootOrder.some(
      (e) =>
        e.description === WINDOWS_BOOT_MANAGER &&
        e.path ===
          `${esp}0x${record.esp.startLba.toString(16)},0x${record.esp.sizeLba.toString(16)})/File(\\EFI\\Microsoft\\Boot\\bootmgfw.efi)`,
    ),
    `Windows Boot Manager is not in BootOrder:\n${order}`,
  ).toBe(true);
  // The menu offers Windows, chainloading its boot manager.
  expect(f.grubCfg).toMatch(/^menuentry ['"][^'"\n]*Windows[^'"\n]*['"]/m);
  expect(f.grubCfg).toMatch(/chainloader\s+\S*\/EFI\/Microsoft\/Boot\/bootmgfw\.efi/i);
}
