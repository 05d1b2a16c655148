// `atomiso doctor`: checks the build host and says how to fix each problem.
import { existsSync, readFileSync } from "node:fs";
import { statfs } from "node:fs/promises";
import { run } from "../tools/exec.js";
import { HOST_FILES, missingTools, TOOL_PACKAGES } from "../tools/host.js";

export type Level = "ok" | "warn" | "fail";

export interface Finding {
  check: string;
  level: Level;
  detail: string;
  fix?: string;
}

const MIN_FREE_GIB = 12;

export function checkNode(version = process.versions.node): Finding {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  const ok = major > 20 || (major === 20 && minor >= 19);
  return ok
    ? { check: "node", level: "ok", detail: `Node ${version}` }
    : {
        check: "node",
        level: "fail",
        detail: `Node ${version} is older than 20.19`,
        fix: "apt-get install nodejs (Debian trixie ships 20.19) or use a newer Node",
      };
}

export function checkRoot(uid = process.getuid?.()): Finding {
  return uid === 0
    ? { check: "root", level: "ok", detail: "running as root" }
    : {
        check: "root",
        level: "fail",
        detail: "not root: builds need mmdebstrap, chroot and mounts",
        fix: "run atomiso with sudo",
      };
}

/** How to build on a host that cannot install atomiso's Debian packages (README: On other hosts). */
export const BUILDER_CONTAINER_FIX =
  "use the builder container, which has every host tool: see README.md, On other hosts (podman build -t atomiso-builder -f oci/builder/Containerfile …, then podman run --privileged … atomiso-builder atomiso build)";

/** Parses /etc/os-release (KEY=value lines, values optionally quoted). */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^([A-Z_][A-Z0-9_]*)=(.*)$/gm)) {
    const [, key = "", raw = ""] = m;
    out[key] = raw.replace(/^(["'])(.*)\1$/, "$2");
  }
  return out;
}

/** atomiso's host tools are Debian packages; elsewhere the builder container is the way in. */
export function checkHostSystem(osRelease: string | undefined): Finding {
  const os = parseOsRelease(osRelease ?? "");
  const name = os.PRETTY_NAME ?? os.NAME ?? "an unknown system (no /etc/os-release)";
  const family = [os.ID ?? "", ...(os.ID_LIKE ?? "").split(/\s+/)];
  if (family.includes("debian"))
    return { check: "host system", level: "ok", detail: `${name} (Debian packages)` };
  return {
    check: "host system",
    level: "warn",
    detail: `${name} is not Debian-based: atomiso's host tools (mmdebstrap, grub, xorriso, …) are Debian packages`,
    fix: BUILDER_CONTAINER_FIX,
  };
}

function readOsRelease(): string | undefined {
  for (const f of ["/etc/os-release", "/usr/lib/os-release"]) {
    if (existsSync(f)) return readFileSync(f, "utf8");
  }
  return undefined;
}

async function checkTools(debian: boolean): Promise<Finding[]> {
  const missing = await missingTools(Object.keys(TOOL_PACKAGES));
  const missingFiles = Object.entries(HOST_FILES).filter(([f]) => !existsSync(f));
  const packages = [
    ...new Set([...missing.map((t) => TOOL_PACKAGES[t] ?? t), ...missingFiles.map(([, p]) => p)]),
  ].sort();
  if (packages.length === 0)
    return [
      {
        check: "host tools",
        level: "ok",
        detail: `${Object.keys(TOOL_PACKAGES).length} tools and boot files present`,
      },
    ];
  return [
    {
      check: "host tools",
      level: "fail",
      detail: `missing: ${[...missing, ...missingFiles.map(([f]) => f)].join(", ")}`,
      fix: debian
        ? `apt-get install ${packages.join(" ")}`
        : `${BUILDER_CONTAINER_FIX} (on Debian: apt-get install ${packages.join(" ")})`,
    },
  ];
}

function checkKernelFilesystems(): Finding {
  const fs = readFileSync("/proc/filesystems", "utf8");
  const want = ["overlay", "squashfs"];
  const missing = want.filter((f) => !new RegExp(`\\b${f}$`, "m").test(fs));
  return missing.length === 0
    ? { check: "kernel filesystems", level: "ok", detail: "overlay and squashfs available" }
    : {
        check: "kernel filesystems",
        level: "warn",
        detail: `not loaded yet: ${missing.join(", ")}`,
        fix: `modprobe ${missing.join(" ")}`,
      };
}

async function checkNamespaces(): Promise<Finding> {
  try {
    await run(["unshare", "--mount", "--propagation", "private", "--fork", "true"]);
    return { check: "mount namespaces", level: "ok", detail: "private mount namespaces work" };
  } catch {
    return {
      check: "mount namespaces",
      level: "fail",
      detail: "unshare --mount fails, so chroot binds cannot be isolated from the host",
      fix: "run as root on a host (or privileged container) that allows mount namespaces",
    };
  }
}

function checkLoop(): Finding {
  return existsSync("/dev/loop-control")
    ? { check: "loop devices", level: "ok", detail: "/dev/loop-control present" }
    : {
        check: "loop devices",
        level: "warn",
        detail: "no /dev/loop-control: install tests cannot use loop disks",
        fix: "modprobe loop",
      };
}

async function checkSpace(dir: string): Promise<Finding> {
  let probe = dir;
  while (!existsSync(probe) && probe !== "/") probe = probe.replace(/\/[^/]*$/, "") || "/";
  const s = await statfs(probe);
  const gib = (s.bavail * s.bsize) / 1024 ** 3;
  return gib >= MIN_FREE_GIB
    ? { check: "free space", level: "ok", detail: `${gib.toFixed(0)} GiB free for ${dir}` }
    : {
        check: "free space",
        level: "warn",
        detail: `${gib.toFixed(1)} GiB free for ${dir}; a build needs about ${MIN_FREE_GIB} GiB`,
        fix: "free space, or point --cache-dir at a bigger disk",
      };
}

/** podman on hosts with v1/hybrid cgroups and low RLIMIT_NPROC needs runc and lower ulimits. */
export function podmanFindings(
  info: { runtime: string; cgroupVersion: string },
  containersConf: string,
): Finding[] {
  const findings: Finding[] = [];
  const fixConf =
    'in /etc/containers/containers.conf: [engine] runtime = "runc" and [containers] default_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]';
  if (info.runtime !== "runc" && info.cgroupVersion !== "v2") {
    findings.push({
      check: "podman runtime",
      level: "fail",
      detail: `podman uses ${info.runtime} on cgroup ${info.cgroupVersion}; crun fails on hybrid cgroups here`,
      fix: `apt-get install runc; ${fixConf}`,
    });
  } else {
    findings.push({
      check: "podman runtime",
      level: "ok",
      detail: `${info.runtime} on cgroup ${info.cgroupVersion}`,
    });
  }
  if (!/default_ulimits\s*=.*nproc=/s.test(containersConf)) {
    findings.push({
      check: "podman ulimits",
      level: "warn",
      detail:
        "no default_ulimits for nproc/nofile: containers fail to start where RLIMIT_NPROC is low",
      fix: fixConf,
    });
  } else {
    findings.push({ check: "podman ulimits", level: "ok", detail: "default_ulimits set" });
  }
  return findings;
}

async function checkPodman(): Promise<Finding[]> {
  try {
    const { stdout } = await run(["podman", "info", "--format", "json"]);
    const host = (
      JSON.parse(stdout) as { host: { ociRuntime: { name: string }; cgroupVersion: string } }
    ).host;
    const confs = [
      "/etc/containers/containers.conf",
      `${process.env.HOME ?? "/root"}/.config/containers/containers.conf`,
    ];
    const text = confs
      .filter(existsSync)
      .map((f) => readFileSync(f, "utf8"))
      .join("\n");
    return podmanFindings(
      { runtime: host.ociRuntime.name, cgroupVersion: host.cgroupVersion },
      text,
    );
  } catch {
    return [
      {
        check: "podman",
        level: "warn",
        detail: "podman info failed (needed for the image pipeline)",
        fix: "apt-get install podman runc",
      },
    ];
  }
}

function checkKvm(): Finding {
  return {
    check: "virtualisation",
    level: "ok",
    detail:
      "boot tests use QEMU TCG (software emulation) by default; `atomiso test boot --kvm` uses KVM where /dev/kvm works (it hangs on some hosts)",
  };
}

export async function runDoctor(cacheDir: string): Promise<Finding[]> {
  const host = checkHostSystem(readOsRelease());
  const groups = await Promise.all([
    Promise.resolve([host, checkRoot(), checkNode()]),
    checkTools(host.level === "ok"),
    Promise.resolve([checkKernelFilesystems(), checkLoop(), checkKvm()]),
    checkNamespaces().then((f) => [f]),
    checkSpace(cacheDir).then((f) => [f]),
    checkPodman(),
  ]);
  return groups.flat();
}
