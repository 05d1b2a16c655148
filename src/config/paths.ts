// Paths in atomiso.toml are relative to the folder that holds it.
import { isAbsolute, resolve } from "node:path";

export function resolveFrom(dir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(dir, path);
}
