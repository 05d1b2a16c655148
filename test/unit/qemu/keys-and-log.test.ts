import { describe, expect, it } from "vitest";
import { calamaresLogReport } from "../../../src/qemu/calamares-log.js";
import { charToKeys, parseCombos, textToKeys } from "../../../src/qemu/keys.js";

describe("QEMU key codes", () => {
  it("types capitals and symbols with shift", () => {
    expect(charToKeys("a")).toEqual(["a"]);
    expect(charToKeys("T")).toEqual(["shift", "t"]);
    expect(charToKeys("-")).toEqual(["minus"]);
    expect(textToKeys("Hi 9")).toEqual([["shift", "h"], ["i"], ["spc"], ["9"]]);
  });

  it("parses key combos", () => {
    expect(parseCombos("alt-n")).toEqual([["alt", "n"]]);
    expect(parseCombos("tab ctrl-a")).toEqual([["tab"], ["ctrl", "a"]]);
  });
});

describe("Calamares log on the serial console", () => {
  const serial = [
    "ATOMISO-MARKER calamares-running firmware=bios secureboot=0",
    "calamares: 05:12:44 [6]: void Calamares::ModuleManager::doInit()",
    "calamares:     Found 59 modules ",
    "calamares: 05:12:45 [2]: void GeneralRequirements::setConfigurationMap(const QVariantMap&)",
    "calamares:     WARNING: GeneralRequirements entry 'internetCheckUrl' is undefined in welcome.conf ",
    "calamares: 05:12:46 [2]: void PartitionViewStep::x()",
    "calamares:     WARNING: Invalid osprober count, labels and buttons not updated. ",
    // The manual UEFI walk's old ESP (256 MiB) below the example's efi_mib (512).
    "calamares: 16:22:32 [2]: bool PartUtils::isEfiFilesystemRecommendedSize(const Partition*)",
    "calamares:     WARNING: Filesystem for EFI is smaller than recommended ( 268435456 bytes) ",
  ].join("\n");

  it("reports configuration warnings and sets known Calamares-internal ones aside", () => {
    const report = calamaresLogReport(serial);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toContain("internetCheckUrl");
    expect(report.ignored.map((i) => i.text).join()).toContain("osprober");
    expect(report.ignored.map((i) => i.text).join()).toContain("smaller than recommended");
  });
});
