// Blank virtual disks for boot tests: the live system should see a machine it can install on.
import { run } from "../tools/exec.js";

export function qemuImgCreateArgv(path: string, sizeGiB: number): string[] {
  return ["qemu-img", "create", "-q", "-f", "qcow2", path, `${sizeGiB}G`];
}

export async function createBlankDisk(path: string, sizeGiB: number): Promise<string> {
  await run(qemuImgCreateArgv(path, sizeGiB));
  return path;
}
