// Reads and writes the UEFI variables in an OVMF VARS file (the pflash image QEMU keeps the
// guest's NVRAM in), so a test can give a guest firmware boot entries before it starts (a
// "Windows Boot Manager", as on a laptop) and read BootOrder and Boot#### back after it stopped.
// Debian has virt-fw-vars (python3-virt-firmware) only from trixie on, and the hosts run
// bookworm: hence this small codec. The layout (edk2 MdeModulePkg VariableFormat.h):
//   firmware volume header ("_FVH" at 40, header length at 48) | variable store header
//   (authenticated-variable GUID, size, format 0x5a, state 0xfe) | variables, each on a
//   4-byte boundary: 60-byte header (start id 0x55aa, state, attributes, monotonic count,
//   timestamp, public key index, name size, data size, vendor GUID), UTF-16 name, data |
//   0xff up to the store's end | the fault-tolerant-write areas (left as they are).
// A variable is live in state 0x3f (added), or 0x3e (being replaced) when no 0x3f copy of it
// follows. Writing keeps the live variables in order, drops deleted ones and appends new ones,
// as edk2's own reclaim does; authenticated variables (PK, KEK, db) are copied byte for byte.
import { readFile, rename, writeFile } from "node:fs/promises";
import { AtomisoError } from "../errors.js";

const AUTH_STORE_GUID = "aaf32c78-947b-439a-a180-2e144ec37792";
export const EFI_GLOBAL_VARIABLE = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
const HEADER_SIZE = 60;
const STORE_HEADER_SIZE = 28;
const START_ID = 0x55aa;
const VAR_ADDED = 0x3f;
const VAR_IN_DELETED_TRANSITION_LIVE = 0x3e;
/** Non-volatile, boot-service and runtime access: what efibootmgr gives Boot#### entries. */
export const NV_BS_RT = 0x7;
/** LOAD_OPTION_ACTIVE */
export const LOAD_OPTION_ACTIVE = 0x1;

export interface UefiVariable {
  name: string;
  guid: string;
  attributes: number;
  data: Buffer;
  /** Monotonic count, timestamp and public key index, kept byte for byte (28 bytes). */
  authInfo: Buffer;
}

export interface VarStore {
  /** The whole file as read; the parts outside the variable area are written back unchanged. */
  raw: Buffer;
  /** Offset of the first variable and the end of the variable area. */
  start: number;
  end: number;
  variables: UefiVariable[];
}

function bad(file: string, why: string): AtomisoError {
  return new AtomisoError(
    "boot-failed",
    `${file} is not an OVMF VARS file this reader understands: ${why}`,
    "give a VARS file made from the ovmf package's OVMF_VARS_4M*.fd templates",
  );
}

export function guidToString(b: Buffer): string {
  const hex = (x: Buffer) => x.toString("hex");
  const le = (off: number, len: number) => hex(Buffer.from(b.subarray(off, off + len)).reverse());
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${hex(b.subarray(8, 10))}-${hex(b.subarray(10, 16))}`;
}

export function guidToBytes(guid: string): Buffer {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(guid)) {
    throw new RangeError(`"${guid}" is not a GUID (8-4-4-4-12 hex digits)`);
  }
  const h = Buffer.from(guid.replaceAll("-", ""), "hex");
  const le = (off: number, len: number) => Buffer.from(h.subarray(off, off + len)).reverse();
  return Buffer.concat([le(0, 4), le(4, 2), le(6, 2), h.subarray(8, 16)]);
}

const utf16z = (s: string) => Buffer.from(`${s}\0`, "utf16le");

export function parseVarStore(raw: Buffer, file = "VARS file"): VarStore {
  if (raw.length < 0x100 || raw.toString("latin1", 40, 44) !== "_FVH") {
    throw bad(file, 'no firmware volume header ("_FVH")');
  }
  const headerLength = raw.readUInt16LE(48);
  if (guidToString(raw.subarray(headerLength, headerLength + 16)) !== AUTH_STORE_GUID) {
    throw bad(file, "its variable store is not an authenticated-variable store");
  }
  const size = raw.readUInt32LE(headerLength + 16);
  if (raw[headerLength + 20] !== 0x5a || headerLength + size > raw.length) {
    throw bad(file, "its variable store header is not formatted or claims more than the file");
  }
  const start = headerLength + STORE_HEADER_SIZE;
  const end = headerLength + size;
  const found: { v: UefiVariable; state: number }[] = [];
  let off = start;
  while (off + HEADER_SIZE <= end && raw.readUInt16LE(off) === START_ID) {
    const state = raw[off + 2] as number;
    const nameSize = raw.readUInt32LE(off + 36);
    const dataSize = raw.readUInt32LE(off + 40);
    const next = off + HEADER_SIZE + nameSize + dataSize;
    if (next > end) throw bad(file, `the variable at offset ${off} runs past the store`);
    const nameBytes = raw.subarray(off + HEADER_SIZE, off + HEADER_SIZE + nameSize);
    found.push({
      state,
      v: {
        name: nameBytes.toString("utf16le").replace(/\0+$/, ""),
        guid: guidToString(raw.subarray(off + 44, off + 60)),
        attributes: raw.readUInt32LE(off + 4),
        authInfo: Buffer.from(raw.subarray(off + 8, off + 36)),
        data: Buffer.from(raw.subarray(off + HEADER_SIZE + nameSize, next)),
      },
    });
    off = (next + 3) & ~3;
  }
  const key = (v: UefiVariable) => `${v.guid}/${v.name}`;
  const added = new Set(found.filter((f) => f.state === VAR_ADDED).map((f) => key(f.v)));
  const variables = found
    .filter(
      (f) =>
        f.state === VAR_ADDED ||
        (f.state === VAR_IN_DELETED_TRANSITION_LIVE && !added.has(key(f.v))),
    )
    .map((f) => f.v);
  return { raw, start, end, variables };
}

export function serializeVarStore(store: VarStore): Buffer {
  const out = Buffer.from(store.raw);
  out.fill(0xff, store.start, store.end);
  let off = store.start;
  for (const v of store.variables) {
    const name = utf16z(v.name);
    const next = off + HEADER_SIZE + name.length + v.data.length;
    if (next > store.end) {
      throw new AtomisoError(
        "boot-failed",
        `the UEFI variables do not fit in the VARS file's ${store.end - store.start}-byte store`,
        "add fewer or smaller variables",
      );
    }
    out.writeUInt16LE(START_ID, off);
    out[off + 2] = VAR_ADDED;
    out[off + 3] = 0;
    out.writeUInt32LE(v.attributes, off + 4);
    v.authInfo.copy(out, off + 8, 0, 28);
    out.writeUInt32LE(name.length, off + 36);
    out.writeUInt32LE(v.data.length, off + 40);
    guidToBytes(v.guid).copy(out, off + 44);
    name.copy(out, off + HEADER_SIZE);
    v.data.copy(out, off + HEADER_SIZE + name.length);
    off = (next + 3) & ~3;
  }
  return out;
}

/** Sets (adds or replaces) a variable; `data` undefined deletes it. */
export function setVariable(
  store: VarStore,
  name: string,
  data: Buffer | undefined,
  attributes = NV_BS_RT,
  guid = EFI_GLOBAL_VARIABLE,
): void {
  store.variables = store.variables.filter((v) => !(v.name === name && v.guid === guid));
  if (data) store.variables.push({ name, guid, attributes, data, authInfo: Buffer.alloc(28) });
}

export function getVariable(
  store: VarStore,
  name: string,
  guid = EFI_GLOBAL_VARIABLE,
): UefiVariable | undefined {
  return store.variables.find((v) => v.name === name && v.guid === guid);
}

// ---- EFI_LOAD_OPTION (Boot####) and the two device path nodes a disk's loader needs ----

export interface LoadOption {
  attributes: number;
  description: string;
  /** The binary device path list, End node included. */
  devicePath: Buffer;
  optionalData: Buffer;
}

export function encodeLoadOption(o: LoadOption): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt32LE(o.attributes, 0);
  head.writeUInt16LE(o.devicePath.length, 4);
  return Buffer.concat([head, utf16z(o.description), o.devicePath, o.optionalData]);
}

export function decodeLoadOption(data: Buffer): LoadOption {
  const pathLength = data.readUInt16LE(4);
  let end = 6;
  while (end + 1 < data.length && data.readUInt16LE(end) !== 0) end += 2;
  const description = data.toString("utf16le", 6, end);
  const pathStart = end + 2;
  return {
    attributes: data.readUInt32LE(0),
    description,
    devicePath: Buffer.from(data.subarray(pathStart, pathStart + pathLength)),
    optionalData: Buffer.from(data.subarray(pathStart + pathLength)),
  };
}

export interface GptPartitionRef {
  /** 1-based partition number. */
  number: number;
  startLba: number;
  sizeLba: number;
  /** The partition's unique GUID (sfdisk's "uuid"), not its type GUID. */
  partitionGuid: string;
}

/** HD(n,GPT,guid,start,size)/File(path)/End: the short form efibootmgr and Windows write. */
export function diskFileDevicePath(part: GptPartitionRef, loader: string): Buffer {
  if (!/^(\\[A-Za-z0-9._-]+)+$/.test(loader)) {
    throw new RangeError(`loader path "${loader}" must look like \\EFI\\Vendor\\file.efi`);
  }
  const hd = Buffer.alloc(42);
  hd.writeUInt8(0x04, 0); // media device path
  hd.writeUInt8(0x01, 1); // hard drive
  hd.writeUInt16LE(42, 2);
  hd.writeUInt32LE(part.number, 4);
  hd.writeBigUInt64LE(BigInt(part.startLba), 8);
  hd.writeBigUInt64LE(BigInt(part.sizeLba), 16);
  guidToBytes(part.partitionGuid).copy(hd, 24);
  hd.writeUInt8(0x02, 40); // partition format: GPT
  hd.writeUInt8(0x02, 41); // signature type: GUID
  const name = utf16z(loader);
  const file = Buffer.alloc(4);
  file.writeUInt8(0x04, 0); // media device path
  file.writeUInt8(0x04, 1); // file path
  file.writeUInt16LE(4 + name.length, 2);
  const endNode = Buffer.from([0x7f, 0xff, 0x04, 0x00]);
  return Buffer.concat([hd, file, name, endNode]);
}

/** Text for a device path, in efibootmgr's spelling for the nodes above, hex for the rest. */
export function describeDevicePath(path: Buffer): string {
  const parts: string[] = [];
  let off = 0;
  while (off + 4 <= path.length) {
    const type = path[off] as number;
    const sub = path[off + 1] as number;
    const len = path.readUInt16LE(off + 2);
    if (len < 4 || off + len > path.length) {
      parts.push("<malformed>");
      break;
    }
    const node = path.subarray(off, off + len);
    if (type === 0x7f && sub === 0xff) break;
    if (type === 0x04 && sub === 0x01 && len === 42) {
      const kind = node[40] === 0x02 ? "GPT" : "MBR";
      const sig =
        node[41] === 0x02 ? guidToString(node.subarray(24, 40)) : node.toString("hex", 24, 28);
      parts.push(
        `HD(${node.readUInt32LE(4)},${kind},${sig},0x${node.readBigUInt64LE(8).toString(16)},0x${node.readBigUInt64LE(16).toString(16)})`,
      );
    } else if (type === 0x04 && sub === 0x04) {
      parts.push(`File(${node.toString("utf16le", 4).replace(/\0+$/, "")})`);
    } else {
      parts.push(`Node(${type},${sub},${node.toString("hex", 4)})`);
    }
    off += len;
  }
  return parts.join("/");
}

// ---- what the tests use: boot entries in a VARS file ----

export interface BootEntry {
  /** The #### of Boot####. */
  number: number;
  description: string;
  active: boolean;
  /** describeDevicePath of the entry's path, e.g. "HD(1,GPT,…)/File(\EFI\debian\shimx64.efi)". */
  path: string;
}

export interface BootConfig {
  bootOrder: number[];
  entries: BootEntry[];
}

const bootName = (n: number) => `Boot${n.toString(16).toUpperCase().padStart(4, "0")}`;

export function bootConfig(store: VarStore): BootConfig {
  const order = getVariable(store, "BootOrder")?.data ?? Buffer.alloc(0);
  const bootOrder: number[] = [];
  for (let i = 0; i + 1 < order.length; i += 2) bootOrder.push(order.readUInt16LE(i));
  const entries: BootEntry[] = [];
  for (const v of store.variables) {
    const m = /^Boot([0-9A-F]{4})$/.exec(v.name);
    if (!m || v.guid !== EFI_GLOBAL_VARIABLE) continue;
    const o = decodeLoadOption(v.data);
    entries.push({
      number: Number.parseInt(m[1] as string, 16),
      description: o.description,
      active: (o.attributes & LOAD_OPTION_ACTIVE) !== 0,
      path: describeDevicePath(o.devicePath),
    });
  }
  return { bootOrder, entries };
}

/** Entries in boot order (the ones BootOrder names, first to last). */
export function orderedEntries(c: BootConfig): BootEntry[] {
  return c.bootOrder.flatMap((n) => c.entries.filter((e) => e.number === n));
}

/** Adds a Boot#### for `option` under the lowest free number, first or last in BootOrder. */
export function addBootEntry(
  store: VarStore,
  option: LoadOption,
  position: "first" | "last",
): number {
  const used = new Set(bootConfig(store).entries.map((e) => e.number));
  let n = 0;
  while (used.has(n)) n++;
  setVariable(store, bootName(n), encodeLoadOption(option));
  const order = bootConfig(store).bootOrder.filter((x) => x !== n);
  const next = position === "first" ? [n, ...order] : [...order, n];
  const data = Buffer.alloc(next.length * 2);
  next.forEach((x, i) => {
    data.writeUInt16LE(x, i * 2);
  });
  setVariable(store, "BootOrder", data);
  return n;
}

export async function readVarStore(file: string): Promise<VarStore> {
  return parseVarStore(await readFile(file), file);
}

/** Writes the store to `file` through a temp file renamed into place. */
export async function writeVarStore(file: string, store: VarStore): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, serializeVarStore(store));
  await rename(tmp, file);
}

/**
 * Copies every Boot#### and BootOrder from one VARS file into another (replacing the target's
 * own), e.g. the entries an install wrote on plain OVMF into a Secure Boot VARS file.
 */
export async function copyBootEntries(from: string, to: string): Promise<void> {
  const source = await readVarStore(from);
  const target = await readVarStore(to);
  const isBoot = (v: UefiVariable) =>
    v.guid === EFI_GLOBAL_VARIABLE && (v.name === "BootOrder" || /^Boot[0-9A-F]{4}$/.test(v.name));
  target.variables = [
    ...target.variables.filter((v) => !isBoot(v)),
    ...source.variables.filter(isBoot),
  ];
  await writeVarStore(to, target);
}
