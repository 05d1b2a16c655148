// Reads text off screenshots with tesseract (through run()), and checks OCR text against
// expected / rejected patterns. Small UI text reads better enlarged and as dark-on-light, so the
// screenshot is converted first (in-process, see png.ts); ImageMagick is not needed.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../tools/exec.js";
import { decodePngGray, encodePngGray, invertGray, meanLuminance, upscaleGray } from "./png.js";

export interface OcrOptions {
  /** tesseract page segmentation mode (default 3: fully automatic). */
  psm?: number;
  /** tesseract language(s) (default "eng"). */
  lang?: string;
  /** Enlarge the image by this integer factor before OCR (default 2; 1 = as is). */
  upscale?: number;
  /** Turn light-on-dark screens into dark-on-light before OCR (default true). */
  invertDark?: boolean;
  /** Also write the recognized text to this file. */
  textFile?: string;
  /** Default 120 s. */
  timeoutMs?: number;
}

/** Makes the OCR input: grayscale, upscaled, dark-on-light. Undefined when nothing to do. */
export async function prepareForOcr(
  pngPath: string,
  options: Pick<OcrOptions, "upscale" | "invertDark">,
): Promise<Buffer | undefined> {
  const factor = options.upscale ?? 2;
  const invert = options.invertDark ?? true;
  if (factor === 1 && !invert) return undefined;
  let image = decodePngGray(await readFile(pngPath));
  if (invert && meanLuminance(image) < 128) image = invertGray(image);
  image = upscaleGray(image, factor);
  return encodePngGray(image);
}

/** Runs tesseract on the prepared screenshot; `scale` is how much it was enlarged. */
async function tesseract(
  pngPath: string,
  options: OcrOptions,
  config: string[],
): Promise<{ stdout: string; scale: number }> {
  let input = pngPath;
  let tempDir: string | undefined;
  let scale = 1;
  try {
    let prepared: Buffer | undefined;
    try {
      prepared = await prepareForOcr(pngPath, options);
    } catch {
      prepared = undefined; // a PNG flavour png.ts cannot read: let tesseract have the original
    }
    if (prepared) {
      tempDir = await mkdtemp(join(tmpdir(), "atomiso-ocr-"));
      input = join(tempDir, "input.png");
      await writeFile(input, prepared);
      scale = options.upscale ?? 2;
    }
    const { stdout } = await run(
      [
        "tesseract",
        input,
        "stdout",
        "--psm",
        String(options.psm ?? 3),
        "-l",
        options.lang ?? "eng",
        ...config,
      ],
      {
        timeoutMs: options.timeoutMs ?? 120_000,
        // One thread: Debian's tesseract spreads a page over every core with OpenMP, which on
        // a small host takes them from the TCG guest being read, for twice the CPU time
        // (a 2560x1600 screenshot: 1.17 s of CPU with OpenMP, 0.54 s without; 2 cores).
        env: { OMP_THREAD_LIMIT: "1" },
        hint: "check that tesseract-ocr and tesseract-ocr-eng are installed (`atomiso doctor`)",
      },
    );
    return { stdout, scale };
  } finally {
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  }
}

/** Recognizes the text in a PNG screenshot. */
export async function ocr(pngPath: string, options: OcrOptions = {}): Promise<string> {
  const { stdout } = await tesseract(pngPath, options, []);
  const text = stdout.replace(/\f/g, "").trimEnd();
  if (options.textFile) await writeFile(options.textFile, `${text}\n`);
  return text;
}

/** A recognized word and its box, in the screenshot's own pixels. */
export interface OcrWord {
  text: string;
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The words of tesseract's TSV output (level 5 rows), their boxes divided by `scale`. */
export function parseTesseractTsv(tsv: string, scale = 1): OcrWord[] {
  const words: OcrWord[] = [];
  for (const line of tsv.split("\n").slice(1)) {
    const f = line.split("\t");
    const text = f[11]?.trim();
    if (f[0] !== "5" || !text) continue;
    const [left, top, width, height] = f.slice(6, 10).map((n) => Math.round(Number(n) / scale));
    if ([left, top, width, height].some((n) => n === undefined || Number.isNaN(n))) continue;
    words.push({
      text,
      left: left as number,
      top: top as number,
      width: width as number,
      height: height as number,
    });
  }
  return words;
}

/** Recognizes the words of a screenshot with their positions (to click on one). */
export async function ocrWords(pngPath: string, options: OcrOptions = {}): Promise<OcrWord[]> {
  const { stdout, scale } = await tesseract(pngPath, options, ["tsv"]);
  return parseTesseractTsv(stdout, scale);
}

/** A string (found case-insensitively, whitespace-insensitively) or a regular expression. */
export type TextPattern = string | RegExp;

function squash(text: string): string {
  return text.replace(/\s+/g, " ").trim().toLowerCase();
}

export function textMatches(text: string, pattern: TextPattern): boolean {
  if (typeof pattern === "string") return squash(text).includes(squash(pattern));
  return new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, "")).test(text);
}

export function describePattern(pattern: TextPattern): string {
  return typeof pattern === "string" ? JSON.stringify(pattern) : String(pattern);
}

export interface ScreenTextCheck {
  ok: boolean;
  /** Expected patterns not found. */
  missing: TextPattern[];
  /** Rejected patterns that were found. */
  rejected: TextPattern[];
}

/** ok when every `expect` pattern is present and no `reject` pattern is. */
export function checkScreenText(
  text: string,
  expect: readonly TextPattern[] = [],
  reject: readonly TextPattern[] = [],
): ScreenTextCheck {
  const missing = expect.filter((p) => !textMatches(text, p));
  const rejected = reject.filter((p) => textMatches(text, p));
  return { ok: missing.length === 0 && rejected.length === 0, missing, rejected };
}
