// Whether a process still exists (signal 0 checks without signalling), used to tell temp dirs of
// running builds from those a killed build left behind.
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
