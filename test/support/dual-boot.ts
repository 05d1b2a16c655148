// What the boot tier checks after an install beside Windows (test/boot/install.test.ts,
// installer-walk.test.ts), read on the host from the powered-off guest's disk and VARS file:
// Windows' files unchanged and NTFS consistent, the firmware's BootOrder with the new system
// first and Windows Boot Manager still in it, and the installed GRUB menu offering Windows.
import { expect } from "vitest";
import {
  type BootEntry,
  bootConfig,
  type GptPartitionRef,
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

/**
 * The new system's firmware entry is first in BootOrder and named `label` (its os-release
 * NAME): shim or GRUB in a folder of its own on `esp` (the disk's ESP, reused, not a new one),
 * never `othersFolder` (the other system's, e.g. "Microsoft") or the removable path.
 */
export function expectNewSystemFirst(
  bootOrder: BootEntry[],
  esp: GptPartitionRef,
  label: string,
  othersFolder: string,
): void {
  const order = describeBootOrder(bootOrder);
  const first = bootOrder[0];
  expect(first?.path, `BootOrder:\n${order}`).toContain(
    `HD(${esp.number},GPT,${esp.partitionGuid},`,
  );
  const folder = /File\(\\EFI\\([^\\]+)\\(shim|grub)x64\.efi\)$/i.exec(first?.path ?? "")?.[1];
  expect(folder, `BootOrder:\n${order}`).toBeDefined();
  expect([othersFolder.toLowerCase(), "boot"], `BootOrder:\n${order}`).not.toContain(
    folder?.toLowerCase(),
  );
  expect(first?.description, `BootOrder:\n${order}`).toBe(label);
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
  expectNewSystemFirst(f.bootOrder, record.esp, label, "Microsoft");
  const esp = `HD(${record.esp.number},GPT,${record.esp.partitionGuid},`;
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
