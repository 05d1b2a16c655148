import { join } from "node:path";
import type { Command } from "commander";
import { withCacheLock } from "../../cache/lock.js";
import { safeRemove } from "../../mounts/safe-remove.js";
import { cacheDirFor, type GlobalOptions } from "../options.js";

export function registerClean(program: Command, globals: () => GlobalOptions): void {
  program
    .command("clean")
    .description("delete cached stage outputs (and with --all the downloaded packages too)")
    .option("--all", "also delete the package cache, so the next build downloads everything")
    .action(async (opts: { all?: boolean }) => {
      const cache = cacheDirFor(globals());
      const targets = opts.all ? [cache] : [join(cache, "stages"), join(cache, "tmp")];
      // Never from under a running build: refuse (naming it) while one holds the cache.
      await withCacheLock(cache, { noWait: true }, async () => {
        for (const t of targets) {
          await safeRemove(t);
          console.log(`removed ${t}`);
        }
      });
    });
}
