// Where atomiso's own files live, and where caches go by default.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The atomiso package root (works from src/ under vitest and from dist/ when compiled). */
export const packageRoot = fileURLToPath(new URL("..", import.meta.url));

/** atomiso's version, from the package.json that ships beside dist/ and src/. */
export const packageVersion: string = (
  JSON.parse(readFileSync(`${packageRoot}package.json`, "utf8")) as { version: string }
).version;

/** Fixed helper scripts atomiso runs on the build host (never built from config). */
export const libexecDir = `${packageRoot}libexec`;

/** Default cache root, outside any clone so rebuilds and CI on one machine share it. */
export function defaultCacheDir(): string {
  return process.env.ATOMISO_CACHE_DIR ?? "/var/cache/atomiso";
}
