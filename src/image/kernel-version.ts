// The version string inside an x86 kernel image (bzImage), read from its boot protocol header
// (Documentation/arch/x86/boot.rst): "HdrS" at 0x202, the protocol version at 0x206 and, from
// 2.00 on, a 16-bit pointer at 0x20E to a NUL-terminated string 0x200 bytes further on, e.g.
// "6.12.48+deb13-amd64 (debian-kernel@lists.debian.org) #1 SMP …". Its first word is the
// `uname -r` of the kernel, which must equal the /usr/lib/modules/<kver> folder it sits in.
import { open } from "node:fs/promises";

const HEADER_MAGIC = 0x53726448; // "HdrS", little endian
const READ_BYTES = 64 * 1024;

/** The kernel release of a bzImage buffer, or undefined when it is not one we can read. */
export function kernelReleaseFromBuffer(buf: Buffer): string | undefined {
  if (buf.length < 0x210) return undefined;
  if (buf.readUInt32LE(0x202) !== HEADER_MAGIC) return undefined;
  if (buf.readUInt16LE(0x206) < 0x0200) return undefined;
  const pointer = buf.readUInt16LE(0x20e);
  if (pointer === 0) return undefined;
  const start = pointer + 0x200;
  if (start >= buf.length) return undefined;
  const end = buf.indexOf(0, start);
  const text = buf
    .subarray(start, end < 0 ? Math.min(buf.length, start + 256) : end)
    .toString("latin1");
  const release = text.split(/\s/)[0] ?? "";
  return /^[0-9][\w.+~-]*$/.test(release) ? release : undefined;
}

export async function kernelReleaseOf(path: string): Promise<string | undefined> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(READ_BYTES);
    const { bytesRead } = await fh.read(buf, 0, READ_BYTES, 0);
    return kernelReleaseFromBuffer(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** A minimal bzImage header carrying `version`, for tests and fixtures. */
export function fakeBzImage(version: string, padTo = 8192): Buffer {
  const buf = Buffer.alloc(Math.max(padTo, 0x400 + version.length + 1));
  buf.writeUInt32LE(HEADER_MAGIC, 0x202);
  buf.writeUInt16LE(0x020f, 0x206);
  buf.writeUInt16LE(0x200, 0x20e); // string at 0x400
  buf.write(`${version} (atomiso@test) #1 SMP`, 0x400, "latin1");
  return buf;
}
