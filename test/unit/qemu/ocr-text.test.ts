import { describe, expect, it } from "vitest";
import { firmwareFromMarker, firmwareMode } from "../../../src/qemu/boot.js";
import {
  checkScreenText,
  describePattern,
  parseTesseractTsv,
  textMatches,
} from "../../../src/qemu/ocr.js";
import {
  darkPixels,
  decodePngGray,
  encodePngGray,
  invertGray,
  isPng,
  meanLuminance,
  pngSize,
  upscaleGray,
} from "../../../src/qemu/png.js";

describe("tesseract TSV", () => {
  it("keeps the words (level 5) with their boxes scaled back to the screenshot", () => {
    const tsv = [
      "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
      "1\t1\t0\t0\t0\t0\t0\t0\t3840\t2400\t-1\t",
      "4\t1\t1\t1\t1\t0\t969\t1503\t300\t40\t-1\t",
      "5\t1\t1\t1\t1\t1\t975\t1506\t144\t33\t96.5\tEncrypt",
      "5\t1\t1\t1\t1\t2\t1131\t1506\t126\t42\t95.1\tsystem",
      "5\t1\t1\t1\t1\t3\t1300\t1506\t10\t10\t0\t ",
      "",
    ].join("\n");
    expect(parseTesseractTsv(tsv, 3)).toEqual([
      { text: "Encrypt", left: 325, top: 502, width: 48, height: 11 },
      { text: "system", left: 377, top: 502, width: 42, height: 14 },
    ]);
  });
});

describe("screen text checks", () => {
  const text = "Welcome to the\n  Debian   installer\nWaiting for 3 modules";

  it("matches strings case- and whitespace-insensitively, regexes as given", () => {
    expect(textMatches(text, "debian installer")).toBe(true);
    expect(textMatches(text, "Welcome to the Debian")).toBe(true);
    expect(textMatches(text, /Waiting for \d+ modules/g)).toBe(true);
    expect(textMatches(text, /waiting for \d+ modules/)).toBe(false);
  });

  it("reports missing and rejected patterns", () => {
    expect(checkScreenText(text, ["Debian", "Install now"], [/Waiting for \d+ modules/])).toEqual({
      ok: false,
      missing: ["Install now"],
      rejected: [/Waiting for \d+ modules/],
    });
    expect(checkScreenText(text, ["Debian"], [/Error/])).toEqual({
      ok: true,
      missing: [],
      rejected: [],
    });
    expect(checkScreenText(text).ok).toBe(true);
    expect(describePattern("a b")).toBe('"a b"');
    expect(describePattern(/x\d/i)).toBe("/x\\d/i");
  });
});

describe("marker firmware field", () => {
  it("reads and normalizes firmware=", () => {
    expect(firmwareFromMarker("ATOMISO-MARKER calamares-running firmware=efi")).toBe("efi");
    // OVMF mirrors GRUB's console to serial, so the line can come doubled.
    expect(firmwareFromMarker("ATOMISO-MARKER x firmware=efiATOMISO-MARKER x firmware=efi")).toBe(
      "efi",
    );
    expect(firmwareFromMarker("ATOMISO-MARKER tiny-booted firmware=pc")).toBe("pc");
    expect(firmwareFromMarker("no field")).toBeUndefined();
    expect(firmwareMode("pc")).toBe("bios");
    expect(firmwareMode("bios")).toBe("bios");
    expect(firmwareMode("EFI")).toBe("uefi");
    expect(firmwareMode(undefined)).toBeUndefined();
  });
});

describe("png helpers", () => {
  it("round-trips a grayscale image and upscales/inverts it", () => {
    const image = { width: 3, height: 2, pixels: Uint8Array.from([0, 128, 255, 10, 20, 30]) };
    const png = encodePngGray(image);
    expect(isPng(png)).toBe(true);
    expect(pngSize(png)).toEqual({ width: 3, height: 2 });
    expect(decodePngGray(png)).toEqual(image);
    const big = upscaleGray(image, 2);
    expect(big.width).toBe(6);
    expect(big.height).toBe(4);
    expect(big.pixels[0]).toBe(0);
    expect(big.pixels[5]).toBe(255);
    expect(upscaleGray(image, 1)).toBe(image);
    expect(invertGray(image).pixels[0]).toBe(255);
    expect(meanLuminance({ width: 2, height: 1, pixels: Uint8Array.from([0, 100]) })).toBe(50);
  });

  it("counts the dark pixels of a rectangle, clipped to the image", () => {
    // 3 × 2: a dark column at x = 1.
    const image = { width: 3, height: 2, pixels: Uint8Array.from([255, 0, 200, 255, 50, 90]) };
    expect(darkPixels(image, { left: 0, top: 0, width: 3, height: 2 })).toBe(3);
    expect(darkPixels(image, { left: 1, top: 0, width: 1, height: 2 })).toBe(2);
    expect(darkPixels(image, { left: 2, top: -5, width: 10, height: 10 }, 100)).toBe(1);
    expect(darkPixels(image, { left: 5, top: 5, width: 2, height: 2 })).toBe(0);
  });

  it("rejects what is not a PNG", () => {
    expect(isPng(Buffer.from("hello world"))).toBe(false);
    expect(() => pngSize(Buffer.from("hello world, not a png"))).toThrow(/not a PNG/);
  });
});
