// Calamares' debug log as the live system copies it to the serial console (live-marker): the
// lines read back, grouped into entries, and sorted into problems and known-harmless warnings.

/** The prefix live-marker puts before each line of Calamares' debug log on ttyS0. */
export const CALAMARES_SERIAL_PREFIX = "calamares: ";

/** The Calamares debug log lines in a serial log (prefix removed), in order. */
export function calamaresLogLines(serialText: string): string[] {
  const lines: string[] = [];
  for (const raw of serialText.split("\n")) {
    const line = raw.replace(/\r$/, "");
    const at = line.indexOf(CALAMARES_SERIAL_PREFIX);
    // Kernel messages on the same console can glue onto the start of a line: search, don't anchor.
    if (at >= 0) lines.push(line.slice(at + CALAMARES_SERIAL_PREFIX.length));
  }
  return lines;
}

export interface CalamaresLogEntry {
  /** "hh:mm:ss" as logged (live-system local time); empty for lines outside the log format. */
  time: string;
  /** Calamares' log level: 1 error, 2 warning, 6 debug, 8 verbose; undefined for stray lines. */
  level: number | undefined;
  /** The header line and its indented continuation lines, as logged. */
  text: string;
}

// "05:35:22 [2]: Calamares::Branding::Branding(...)", then indented continuation lines.
const ENTRY_HEADER = /^(\d\d:\d\d:\d\d) \[(\d+)\]: /;

/**
 * Groups Calamares' debug log into entries. Calamares writes a header line with the time, the
 * level and the function (or "WARNING (Qt): ..." for messages Qt itself raises), followed by
 * the messages, indented. Lines that are neither (e.g. Qt's stderr before the logger is set up)
 * become entries of their own with no level.
 */
export function calamaresLogEntries(lines: readonly string[]): CalamaresLogEntry[] {
  const entries: CalamaresLogEntry[] = [];
  let current: { time: string; level: number | undefined; lines: string[] } | undefined;
  const flush = () => {
    if (current)
      entries.push({ time: current.time, level: current.level, text: current.lines.join("\n") });
    current = undefined;
  };
  for (const line of lines) {
    const header = ENTRY_HEADER.exec(line);
    if (header) {
      flush();
      current = { time: header[1] ?? "", level: Number(header[2]), lines: [line.trimEnd()] };
    } else if (/^\s/.test(line) && current) {
      current.lines.push(line.trimEnd());
    } else if (line.trim() !== "") {
      flush();
      entries.push({ time: "", level: undefined, text: line.trimEnd() });
    }
  }
  flush();
  return entries;
}

/**
 * Warnings that say nothing about our configuration, with the reason each is harmless. Every
 * pattern is specific; a warning about a file we ship, a key we set or a package we install is
 * never listed here (it is a finding to fix, e.g. "does not ship translations").
 */
export const HARMLESS_CALAMARES_WARNINGS: readonly { pattern: RegExp; why: string }[] = [
  {
    pattern: /WARNING: Filesystem "unknown" not found, using ext4/,
    why: "partition.conf's root entry says filesystem \"unknown\", the documented way to get the file system the user picks; PartUtils::canonicalFilesystemName warns while parsing it and reports the type as Unknown, which PartitionLayout replaces with the user's choice when the layout is applied",
  },
  {
    pattern: /WARNING \(Qt\): unknown file system type\s+""\s+on\s+"\/dev\/[^"]+"/,
    why: "KPMcore probing a disk without a partition table or file system (the blank target disk of a test machine, or a new disk); the installer erases it anyway",
  },
  {
    pattern: /WARNING \(Qt\): [^\n]*atomiso erase check: /,
    why: "atomiso's own erase confirmation page (erase-confirm.qml) records what it read from GlobalStorage and decided; Qt logs QML's console.warn as a warning",
  },
  {
    pattern: /WARNING \(Qt\): (?:begin|end)ResetModel called on BootLoaderModel\(/,
    why: "Calamares' partition module nests model resets in its boot loader list (BootLoaderModel); Qt 6.8 and later warn about the nesting; it happens whatever the configuration says",
  },
  {
    pattern:
      /WARNING: (?:system is EFI but no EFI system partitions found\.|System is EFI but there's no EFI system partition, DISABLING alongside and replace features\.)/,
    why: "on UEFI, Calamares looks for an existing EFI system partition to install alongside or replace into; a blank (or new) disk has none, so only Erase disk is offered, and Erase disk creates one (the summary lists it)",
  },
  {
    pattern: /WARNING: Filesystem for EFI is smaller than recommended \(\s*\d+ bytes\)/,
    why: "a user's existing EFI system partition, picked by hand, is below the profile's installer.partition.efi_mib (Calamares' recommended size; an old PC's 256 MiB, Windows' 100 MiB): Calamares also tells the user in a dialog when the manual page is left, and the install reuses the partition as it is (docs/installer.md)",
  },
  {
    pattern: /WARNING: Could not read fstab from mounted fs/,
    why: "the partition page mounts every existing partition to look for an fstab (a Linux root); Windows' NTFS and its ESP have none",
  },
  {
    pattern: /WARNING: Invalid osprober count, labels and buttons not updated\./,
    why: "the partition page retranslates its texts before os-prober has reported (the count starts at -1) and does it again once it has; an ordering message inside Calamares",
  },
  {
    pattern:
      /WARNING \(Qt\): QObject::setParent: Cannot set parent, new parent is in a different thread/,
    why: "raised by Calamares' own widget code while it builds the summary page (logged the moment that page is entered); no configuration key takes part",
  },
  {
    pattern:
      /WARNING \(Qt\): QLayout: Attempting to add QLayout "" to QWidget "", which already has a layout/,
    why: "raised by Calamares' own widget code while it builds the summary page (logged the moment that page is entered); no configuration key takes part",
  },
];

/** Error (level 1) and warning (level 2) entries, and stray lines that say WARNING or ERROR. */
function isProblem(entry: CalamaresLogEntry): boolean {
  if (entry.level !== undefined) return entry.level === 1 || entry.level === 2;
  return /\b(?:WARNING|ERROR|CRITICAL|FATAL)\b/.test(entry.text);
}

export interface CalamaresLogReport {
  /** Warnings and errors that need fixing (each entry's text, as logged). */
  problems: string[];
  /** Warnings left out as harmless, with the reason. */
  ignored: { text: string; why: string }[];
}

/** Sorts the warnings and errors in Calamares' debug log (from a serial log) into both kinds. */
export function calamaresLogReport(serialText: string): CalamaresLogReport {
  const report: CalamaresLogReport = { problems: [], ignored: [] };
  for (const entry of calamaresLogEntries(calamaresLogLines(serialText))) {
    if (!isProblem(entry)) continue;
    const harmless = HARMLESS_CALAMARES_WARNINGS.find((h) => h.pattern.test(entry.text));
    if (harmless) report.ignored.push({ text: entry.text, why: harmless.why });
    else report.problems.push(entry.text);
  }
  return report;
}

/**
 * The warnings and errors in the Calamares debug log that the live system copies to the serial
 * console (installer-scripts/live/live-marker), minus HARMLESS_CALAMARES_WARNINGS: each is an
 * entry's text as logged (header line plus message lines). Empty means Calamares found nothing
 * to complain about in its settings, module configuration, branding and environment.
 */
export function calamaresLogProblems(serialText: string): string[] {
  return calamaresLogReport(serialText).problems;
}
