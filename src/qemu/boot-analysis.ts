// Where a live boot's time went, as the live system reports it on the serial console
// (installer-scripts/live/live-marker: "ATOMISO-BOOT " before each line of `systemd-analyze
// time`, `blame` and `critical-chain graphical.target`, then where the CPU went, then "report
// end"; once Calamares has checked its requirements). The boot tier and the bench print it
// beside their own clock (QEMU start → Calamares → welcome page), which covers firmware and
// the Calamares start that systemd does not see.

/** The prefix live-marker puts before each line of systemd-analyze's output. */
export const BOOT_ANALYSIS_PREFIX = "ATOMISO-BOOT ";
/** live-marker's last line of the report (it comes after the welcome page). */
export const BOOT_REPORT_END = /ATOMISO-BOOT report end\b/;

export interface BootAnalysis {
  /** "Startup finished in …" split into its phases, in seconds (kernel, initrd, userspace…). */
  phases: Record<string, number>;
  totalSeconds: number;
  /** The slowest units (systemd-analyze blame), slowest first. */
  slowest: { unit: string; seconds: number }[];
  /** systemd-analyze critical-chain graphical.target, as printed. */
  criticalChain: string[];
  /**
   * When the session's programs started (sddm, Xorg, openbox, calamares), in seconds since the
   * kernel started, in that order: the part of the boot after graphical.target.
   */
  started: { name: string; seconds: number }[];
  /**
   * CPU seconds since the kernel started, summed over the CPUs, as the report was written (just
   * after the welcome page): busy and idle, and the control groups (services, scopes, mounts)
   * that used the most, most first. Absent from reports of ISOs built before it was added.
   */
  cpu?: { busySeconds: number; idleSeconds: number; units: { unit: string; seconds: number }[] };
}

/** systemd's time spans: "1min 2.345s", "812ms", "3.1s", "2h 1min 3s", "950us". */
export function parseTimespan(text: string): number | undefined {
  const units: Record<string, number> = {
    h: 3600,
    min: 60,
    s: 1,
    ms: 1e-3,
    us: 1e-6,
    µs: 1e-6,
  };
  const parts = text.trim().split(/\s+/);
  if (parts.length === 0 || parts[0] === "") return undefined;
  let seconds = 0;
  for (const part of parts) {
    const m = /^(\d+(?:\.\d+)?)(h|min|s|ms|us|µs)$/.exec(part);
    if (!m) return undefined;
    seconds += Number(m[1]) * (units[m[2] as string] ?? 0);
  }
  return seconds;
}

/** The report in a serial log's text (not its path), or undefined when the live system printed none. */
export function bootAnalysis(serialLog: string): BootAnalysis | undefined {
  const lines = serialLog
    .split(/\r?\n/)
    .map((l) => {
      const at = l.indexOf(BOOT_ANALYSIS_PREFIX);
      return at < 0 ? undefined : l.slice(at + BOOT_ANALYSIS_PREFIX.length).trimEnd();
    })
    .filter((l): l is string => l !== undefined);
  const startup = lines.find((l) => l.startsWith("Startup finished in "));
  if (!startup) return undefined;
  const [sum, total] = startup.slice("Startup finished in ".length).split(" = ");
  const phases: Record<string, number> = {};
  for (const term of (sum ?? "").split(" + ")) {
    const m = /^(.+) \(([\w ]+)\)$/.exec(term.trim());
    const seconds = m ? parseTimespan(m[1] as string) : undefined;
    if (m && seconds !== undefined) phases[m[2] as string] = seconds;
  }
  const slowest: BootAnalysis["slowest"] = [];
  for (const line of lines) {
    // blame: "    12.345s NetworkManager.service" (the span may have spaces: "1min 2.3s").
    const m =
      /^\s*(.+?)\s+(\S+\.(?:service|mount|device|socket|target|timer|path|scope|slice|swap))$/.exec(
        line,
      );
    const seconds = m ? parseTimespan(m[1] as string) : undefined;
    if (m && seconds !== undefined) slowest.push({ unit: m[2] as string, seconds });
  }
  slowest.sort((a, b) => b.seconds - a.seconds);
  const chainStart = lines.findIndex((l) => /^graphical\.target @/.test(l));
  const criticalChain =
    chainStart < 0 ? [] : lines.slice(chainStart).filter((l) => /[@+]\d/.test(l));
  const started: BootAnalysis["started"] = [];
  for (const line of lines) {
    const m = /^started (\S+) (\d+(?:\.\d+)?)$/.exec(line);
    if (m) started.push({ name: m[1] as string, seconds: Number(m[2]) });
  }
  const cpuTotal = lines
    .map((l) => /^cpu all busy (\d+(?:\.\d+)?) idle (\d+(?:\.\d+)?)$/.exec(l))
    .find((m) => m !== null);
  const cpuUnits = lines.flatMap((l) => {
    const m = /^cpu unit (\S+) (\d+(?:\.\d+)?)$/.exec(l);
    return m ? [{ unit: m[1] as string, seconds: Number(m[2]) }] : [];
  });
  cpuUnits.sort((a, b) => b.seconds - a.seconds);
  return {
    phases,
    started,
    ...(cpuTotal
      ? {
          cpu: {
            busySeconds: Number(cpuTotal[1]),
            idleSeconds: Number(cpuTotal[2]),
            units: cpuUnits,
          },
        }
      : {}),
    totalSeconds: parseTimespan(total ?? "") ?? Object.values(phases).reduce((a, b) => a + b, 0),
    slowest,
    criticalChain,
  };
}

/** Whether the live system ran with its medium copied to memory, as live-marker reports it. */
export interface MediumCopy {
  copied: boolean;
  /** MemTotal and the copy's need (atomiso.toram), in MiB; absent for "not a virtual machine". */
  memoryMiB?: number;
  needMiB?: number;
  /** The file system /run/live/medium is on once booted (tmpfs when copied). */
  mountedOn: string;
}

/**
 * live-marker's "ATOMISO-BOOT medium copy yes|no (…); /run/live/medium on FS" line
 * (installer-scripts/initramfs/toram-in-vm decides), or undefined when the serial log has none.
 */
export function mediumCopy(serialLog: string): MediumCopy | undefined {
  const m =
    /ATOMISO-BOOT medium copy (yes|no) \((?:(\d+) MiB of memory, the copy needs (\d+) MiB[^)]*|[^)]*)\); \/run\/live\/medium on (\S+)/.exec(
      serialLog,
    );
  if (!m) return undefined;
  return {
    copied: m[1] === "yes",
    ...(m[2] ? { memoryMiB: Number(m[2]), needMiB: Number(m[3]) } : {}),
    mountedOn: m[4] as string,
  };
}

/** Two or three lines for a test's or the bench's log. */
export function describeBootAnalysis(a: BootAnalysis, topUnits = 6): string {
  const phases = Object.entries(a.phases)
    .map(([name, s]) => `${name} ${s.toFixed(1)} s`)
    .join(" + ");
  const units = a.slowest
    .slice(0, topUnits)
    .map((u) => `${u.unit} ${u.seconds.toFixed(1)} s`)
    .join(", ");
  const lines = [
    `systemd: ${phases} = ${a.totalSeconds.toFixed(1)} s`,
    `slowest units: ${units || "(none reported)"}`,
  ];
  if (a.started.length > 0)
    lines.push(
      `started (s after the kernel): ${a.started.map((p) => `${p.name} ${p.seconds.toFixed(1)}`).join(", ")}`,
    );
  if (a.cpu)
    lines.push(
      `CPU (s, all CPUs): busy ${a.cpu.busySeconds.toFixed(1)}, idle ${a.cpu.idleSeconds.toFixed(1)}; ${a.cpu.units
        .slice(0, topUnits)
        .map((u) => `${u.unit} ${u.seconds.toFixed(1)}`)
        .join(", ")}`,
    );
  return lines.join("\n");
}
