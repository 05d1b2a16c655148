// The only recursive delete in atomiso. It refuses to delete a tree that still has anything
// mounted in it: `rm -rf` through a bind of the host's /dev wipes the host's device nodes.
import { rm } from "node:fs/promises";
import { AtomisoError } from "../errors.js";
import { mountsUnder } from "./mountinfo.js";

export async function safeRemove(dir: string): Promise<void> {
  const mounts = await mountsUnder(dir);
  if (mounts.length > 0) {
    throw new AtomisoError(
      "unsafe-delete",
      `refusing to delete ${dir}: ${mounts.length} mount(s) are still active inside it (${mounts.slice(0, 3).join(", ")})`,
      `unmount them first (umount -R ${mounts.at(-1)}), then run the command again`,
    );
  }
  await rm(dir, { recursive: true, force: true });
}
