// Just enough PNG to help OCR without ImageMagick: decode 8-bit non-interlaced grayscale/RGB(A)
// images (what QEMU's screendump writes), turn them into grayscale, upscale by an integer factor,
// optionally invert (dark text on a light background reads best), and encode a grayscale PNG.
import { crc32, deflateSync, inflateSync } from "node:zlib";

export interface GrayImage {
  width: number;
  height: number;
  /** One byte of luminance per pixel, row by row. */
  pixels: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** True when the buffer starts with the PNG signature. */
export function isPng(data: Uint8Array): boolean {
  return data.length >= 8 && Buffer.from(data.subarray(0, 8)).equals(SIGNATURE);
}

/** Width and height from the IHDR chunk. */
export function pngSize(data: Buffer): { width: number; height: number } {
  if (!isPng(data) || data.length < 24) throw new Error("not a PNG file");
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/** The gray of an RGB colour as decodePngGray computes it (ITU-R BT.601 weights), unrounded. */
export function luminance(r: number, g: number, b: number): number {
  return (299 * r + 587 * g + 114 * b) / 1000;
}

/** Decodes an 8-bit, non-interlaced grayscale, gray+alpha, RGB or RGBA PNG into luminance. */
export function decodePngGray(data: Buffer): GrayImage {
  const { width, height } = pngSize(data);
  const bitDepth = data[24];
  const colorType = data[25];
  const interlace = data[28];
  const channelsByType: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };
  const channels = colorType === undefined ? undefined : channelsByType[colorType];
  if (bitDepth !== 8 || channels === undefined || interlace !== 0) {
    throw new Error(
      `unsupported PNG (bit depth ${bitDepth}, color type ${colorType}, interlace ${interlace})`,
    );
  }
  const idat: Buffer[] = [];
  let pos = 8;
  while (pos + 8 <= data.length) {
    const length = data.readUInt32BE(pos);
    const type = data.toString("latin1", pos + 4, pos + 8);
    if (type === "IDAT") idat.push(data.subarray(pos + 8, pos + 8 + length));
    if (type === "IEND") break;
    pos += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) throw new Error("truncated PNG image data");
  const prev = new Uint8Array(stride);
  const cur = new Uint8Array(stride);
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const rowStart = y * (stride + 1);
    const filter = raw[rowStart];
    for (let i = 0; i < stride; i++) {
      const x = raw[rowStart + 1 + i] as number;
      const a = i >= channels ? (cur[i - channels] as number) : 0;
      const b = prev[i] as number;
      const c = i >= channels ? (prev[i - channels] as number) : 0;
      let v: number;
      switch (filter) {
        case 0:
          v = x;
          break;
        case 1:
          v = x + a;
          break;
        case 2:
          v = x + b;
          break;
        case 3:
          v = x + ((a + b) >> 1);
          break;
        case 4:
          v = x + paeth(a, b, c);
          break;
        default:
          throw new Error(`bad PNG filter type ${filter} in row ${y}`);
      }
      cur[i] = v & 0xff;
    }
    for (let px = 0; px < width; px++) {
      const o = px * channels;
      let lum: number;
      if (channels >= 3) {
        lum = luminance(cur[o] as number, cur[o + 1] as number, cur[o + 2] as number);
      } else {
        lum = cur[o] as number;
      }
      if (channels === 2 || channels === 4) {
        // Composite onto black, like the framebuffer the screenshot came from.
        lum = (lum * (cur[o + channels - 1] as number)) / 255;
      }
      pixels[y * width + px] = Math.round(lum);
    }
    prev.set(cur);
  }
  return { width, height, pixels };
}

function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])) >>> 0, 0);
  return Buffer.concat([head, body, crc]);
}

/** Encodes an 8-bit grayscale PNG. */
export function encodePngGray(image: GrayImage): Buffer {
  const { width, height, pixels } = image;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  const raw = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) {
    raw[y * (width + 1)] = 0; // filter: none
    raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  }
  return Buffer.concat([
    SIGNATURE,
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Integer upscale with bilinear interpolation (keeps glyph edges smooth for OCR). */
export function upscaleGray(image: GrayImage, factor: number): GrayImage {
  if (!Number.isInteger(factor) || factor < 1)
    throw new RangeError("factor must be an integer >= 1");
  if (factor === 1) return image;
  const { width, height, pixels } = image;
  const w = width * factor;
  const h = height * factor;
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const sy = Math.max(0, (y + 0.5) / factor - 0.5);
    const y0 = Math.min(height - 1, Math.floor(sy));
    const y1 = Math.min(height - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < w; x++) {
      const sx = Math.max(0, (x + 0.5) / factor - 0.5);
      const x0 = Math.min(width - 1, Math.floor(sx));
      const x1 = Math.min(width - 1, x0 + 1);
      const fx = sx - x0;
      const p00 = pixels[y0 * width + x0] as number;
      const p01 = pixels[y0 * width + x1] as number;
      const p10 = pixels[y1 * width + x0] as number;
      const p11 = pixels[y1 * width + x1] as number;
      const top = p00 + (p01 - p00) * fx;
      const bottom = p10 + (p11 - p10) * fx;
      out[y * w + x] = Math.round(top + (bottom - top) * fy);
    }
  }
  return { width: w, height: h, pixels: out };
}

/** Mean luminance, 0..255. */
export function meanLuminance(image: GrayImage): number {
  let sum = 0;
  for (const p of image.pixels) sum += p;
  return image.pixels.length ? sum / image.pixels.length : 0;
}

/** How many pixels of a rectangle (clipped to the image) are darker than `below`. */
export function darkPixels(
  image: GrayImage,
  rect: { left: number; top: number; width: number; height: number },
  below = 96,
): number {
  let n = 0;
  const x0 = Math.max(0, Math.round(rect.left));
  const y0 = Math.max(0, Math.round(rect.top));
  const x1 = Math.min(image.width, Math.round(rect.left + rect.width));
  const y1 = Math.min(image.height, Math.round(rect.top + rect.height));
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) if ((image.pixels[y * image.width + x] ?? 255) < below) n++;
  }
  return n;
}

export function invertGray(image: GrayImage): GrayImage {
  return { ...image, pixels: image.pixels.map((p) => 255 - p) };
}
