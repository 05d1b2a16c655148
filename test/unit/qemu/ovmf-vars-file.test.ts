// The VARS file a guest gets: a fresh copy of the template per run, or the caller's own file
// used in place (boot entries then carry over to the next guest and can be read on the host);
// and the pure parts of the UEFI load option codec.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  decodeLoadOption,
  describeDevicePath,
  diskFileDevicePath,
  encodeLoadOption,
  guidToBytes,
  guidToString,
} from "../../../src/qemu/ovmf-vars.js";
import { prepareMachine } from "../../../src/qemu/prepare.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "atomiso-vars-"));
  await writeFile(join(dir, "OVMF_CODE_4M.fd"), "code");
  await writeFile(join(dir, "OVMF_VARS_4M.fd"), "template");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("prepareMachine's OVMF VARS", () => {
  it("copies the template for each run by default", async () => {
    const { plan } = await prepareMachine({
      firmware: "uefi",
      runDir: dir,
      ovmfDir: dir,
      disks: [{ path: "/d.raw" }],
    });
    expect(plan.firmwareFiles?.vars).toBe(join(dir, "OVMF_VARS.fd"));
    expect(await readFile(join(dir, "OVMF_VARS.fd"), "utf8")).toBe("template");
  });

  it("uses the caller's own file in place with keepOvmfVars", async () => {
    const own = join(dir, "laptop-vars.fd");
    await writeFile(own, "written by an earlier guest");
    const { plan } = await prepareMachine({
      firmware: "uefi",
      runDir: dir,
      ovmfDir: dir,
      disks: [{ path: "/d.raw" }],
      ovmfVars: own,
      keepOvmfVars: true,
    });
    expect(plan.firmwareFiles?.vars).toBe(own);
    expect(plan.argv).toContain(`if=pflash,format=raw,unit=1,file=${own}`);
    expect(await readFile(own, "utf8")).toBe("written by an earlier guest");
  });

  it("refuses a missing own file instead of starting with empty NVRAM", async () => {
    await expect(
      prepareMachine({
        firmware: "uefi",
        runDir: dir,
        ovmfDir: dir,
        disks: [{ path: "/d.raw" }],
        ovmfVars: join(dir, "absent.fd"),
        keepOvmfVars: true,
      }),
    ).rejects.toThrow(/absent\.fd the caller handed on is missing/);
  });
});

describe("UEFI load options", () => {
  it("round-trips a GUID in the firmware's mixed-endian layout", () => {
    const guid = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
    expect(guidToBytes(guid).toString("hex")).toBe("61dfe48bca93d211aa0d00e098032b8c");
    expect(guidToString(guidToBytes(guid))).toBe(guid);
  });

  it("encodes a Windows Boot Manager entry that decodes to the same path", () => {
    const path = diskFileDevicePath(
      {
        number: 1,
        startLba: 2048,
        sizeLba: 204800,
        partitionGuid: "0b0c1f2e-3d4c-4b5a-9687-a1b2c3d4e5f6",
      },
      "\\EFI\\Microsoft\\Boot\\bootmgfw.efi",
    );
    const option = decodeLoadOption(
      encodeLoadOption({
        attributes: 1,
        description: "Windows Boot Manager",
        devicePath: path,
        optionalData: Buffer.from("WINDOWS"),
      }),
    );
    expect(option.description).toBe("Windows Boot Manager");
    expect(option.optionalData.toString()).toBe("WINDOWS");
    expect(describeDevicePath(option.devicePath)).toBe(
      "HD(1,GPT,0b0c1f2e-3d4c-4b5a-9687-a1b2c3d4e5f6,0x800,0x32000)/File(\\EFI\\Microsoft\\Boot\\bootmgfw.efi)",
    );
  });

  it("refuses a loader path that is not a plain EFI path", () => {
    const part = {
      number: 1,
      startLba: 2048,
      sizeLba: 2048,
      partitionGuid: "0b0c1f2e-3d4c-4b5a-9687-a1b2c3d4e5f6",
    };
    expect(() => diskFileDevicePath(part, "/EFI/x.efi")).toThrow(/must look like/);
  });
});
