// What "Erase disk" would delete, for the Calamares page that asks once more before it
// (erase-confirm.qml imports this file; test/unit/erase-check.test.ts runs it in node).
// Plain ECMAScript without imports or exports: QML loads it as a JavaScript resource.
//
// Inputs, as the page has them:
//  - choice: GlobalStorage "partitionChoices", which the partition module writes whenever the
//    choice changes ({ install: "erase" | "alongside" | "replace" | "manual" | "none", swap })
//  - osproberLines: GlobalStorage "osproberLines", the partition module's os-prober output
//    ("/dev/vda1@/EFI/Microsoft/Boot/bootmgfw.efi:Windows Boot Manager:Windows:efi")
//  - lsblkText: the JSON of installer-scripts/live/disk-list (lsblk, partitions nested under
//    their disk), written by the live session before it starts Calamares; "" or null when it
//    could not be read.
// Calamares 3.3 does not tell which disk the choice page shows until the install runs
// (FillGlobalStorageJob), so with more than one disk every disk that holds something is named.

/** Where live-boot mounts the medium the live system runs from (never an install target). */
const LIVE_MEDIUM = "/run/live/";

/** { partition, name } for each os-prober line (its long name, else the short one). */
function osproberSystems(lines) {
  const systems = [];
  if (!lines || typeof lines.length !== "number") return systems;
  for (let i = 0; i < lines.length; i++) {
    const columns = String(lines[i]).split(":");
    const partition = (columns[0] || "").trim().split("@")[0];
    const name = (columns[1] || "").trim() || (columns[2] || "").trim();
    if (partition.startsWith("/dev/") && name !== "") systems.push({ partition, name });
  }
  return systems;
}

function sizeText(bytes) {
  const n = Number(bytes);
  if (!(n > 0)) return "";
  const gib = n / 1073741824;
  if (gib >= 1) return `${gib.toFixed(1)} GiB`;
  return `${Math.max(1, Math.round(n / 1048576))} MiB`;
}

function isLiveMedium(device) {
  const mounts = device.mountpoints || [];
  if (mounts.some((m) => typeof m === "string" && m.startsWith(LIVE_MEDIUM))) return true;
  return (device.children || []).some(isLiveMedium);
}

/** The disks an install could target: whole disks, not zram swap, not the live medium. */
function targetDisks(blockdevices) {
  return blockdevices.filter(
    (d) =>
      d &&
      d.type === "disk" &&
      typeof d.path === "string" &&
      !d.path.startsWith("/dev/zram") &&
      !isLiveMedium(d),
  );
}

/** One line per partition (or whole-disk file system) holding a system or a file system. */
function diskLosses(disk, systems) {
  const lines = [];
  for (const p of [disk].concat(disk.children || [])) {
    const named = systems.filter((s) => s.partition === p.path).map((s) => s.name);
    if (named.length === 0 && !p.fstype) continue;
    const facts = [];
    if (p.fstype) facts.push(String(p.fstype));
    if (p.label) facts.push(`"${String(p.label)}"`);
    const size = sizeText(p.size);
    if (size) facts.push(size);
    const where = facts.length ? `${p.path} (${facts.join(", ")})` : p.path;
    lines.push(named.length ? `${named.join(", ")} on ${where}` : where);
  }
  return lines;
}

function parseBlockdevices(lsblkText) {
  try {
    const parsed = lsblkText ? JSON.parse(lsblkText) : null;
    const list = parsed && Array.isArray(parsed.blockdevices) ? parsed.blockdevices : null;
    // A flat list (partitions beside their disks, as lsblk prints without its tree column)
    // cannot tell which disk holds what: treated as unknown, so the page asks.
    if (list?.some((d) => d && d.type === "part")) return null;
    return list;
  } catch (_e) {
    return null;
  }
}

/**
 * { ask, heading, lines }: ask is true when the choice is Erase and a disk an install could
 * target holds another system or a file system (or when that cannot be known because the disk
 * list is missing); the lines name what would be lost.
 */
// biome-ignore lint/correctness/noUnusedVariables: called by erase-confirm.qml
function eraseLosses(choice, osproberLines, lsblkText) {
  const none = { ask: false, heading: "", lines: [] };
  if (choice?.install !== "erase") return none;
  const systems = osproberSystems(osproberLines);
  const blockdevices = parseBlockdevices(lsblkText);
  if (blockdevices === null) {
    // Fail safe: without the disk list, say so and name what os-prober found.
    const found = systems.map((s) => `${s.name} on ${s.partition}`);
    return {
      ask: true,
      heading: `The list of this computer's disks could not be read. Erase disk deletes every system and file on the disk you chose.${found.length ? " Systems found on this computer:" : ""}`,
      lines: found,
    };
  }
  const disks = targetDisks(blockdevices);
  const holding = disks
    .map((disk) => ({ disk, lines: diskLosses(disk, systems) }))
    .filter((h) => h.lines.length > 0);
  if (holding.length === 0) return none;
  if (disks.length === 1) {
    return {
      ask: true,
      heading: `Erase disk deletes everything on ${disks[0].path}, among it:`,
      lines: holding[0].lines,
    };
  }
  const lines = [];
  for (const h of holding) {
    const size = sizeText(h.disk.size);
    lines.push(size ? `${h.disk.path} (${size}):` : `${h.disk.path}:`);
    for (const line of h.lines) lines.push(`    ${line}`);
  }
  return {
    ask: true,
    heading:
      "Erase disk deletes everything on the disk you chose. If it is one of these, this is lost:",
    lines,
  };
}
