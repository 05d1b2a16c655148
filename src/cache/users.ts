// Which live processes still use a directory, found in /proc: their working directory, root,
// executable or an open file is inside it, or a mount inside it exists in their mount namespace.
// A temp dir a killed build left behind is deleted only when none does: if one of its tools
// survived (or was started some way other than through exec.ts), deleting its files from under
// it would be wrong, and a mount in another namespace is invisible to our own mount table.
import { readdir, readFile, readlink } from "node:fs/promises";
import { resolve } from "node:path";

export interface DirUser {
  pid: number;
  /** The process's name (comm). */
  name: string;
  /** How it uses the directory, e.g. "cwd", "root", "fd", "mount /x/proc". */
  how: string;
}

function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/** Unescapes the octal escapes (\040 for space…) of /proc/PID/mountinfo. */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) =>
    String.fromCharCode(Number.parseInt(oct, 8)),
  );
}

async function usage(pid: number, dir: string): Promise<string | undefined> {
  const base = `/proc/${pid}`;
  const link = (name: string) => readlink(`${base}/${name}`).catch(() => "");
  for (const name of ["cwd", "root", "exe"]) if (inside(await link(name), dir)) return name;
  const fds = await readdir(`${base}/fd`).catch(() => [] as string[]);
  for (const fd of fds) if (inside(await link(`fd/${fd}`), dir)) return `fd ${fd}`;
  const mountinfo = await readFile(`${base}/mountinfo`, "utf8").catch(() => "");
  for (const line of mountinfo.split("\n")) {
    const point = unescapeOctal(line.split(" ")[4] ?? "");
    if (point && inside(point, dir)) return `mount ${point}`;
  }
  return undefined;
}

/** Processes (other than this one) that use `dir` or anything below it. */
export async function processesUsing(dir: string): Promise<DirUser[]> {
  const target = resolve(dir);
  const pids = (await readdir("/proc"))
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => pid !== process.pid);
  const users: DirUser[] = [];
  for (const pid of pids) {
    const how = await usage(pid, target);
    if (!how) continue;
    const name = (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "?")).trim();
    users.push({ pid, name, how });
  }
  return users;
}
