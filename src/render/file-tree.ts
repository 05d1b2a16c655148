// A rendered set of files (path relative to a root, content, mode), written in one go.
import { chmod, mkdir, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

export interface RenderedFile {
  /** Path relative to the tree root, without a leading slash. */
  path: string;
  content: string | Buffer;
  mode?: number;
  /** Make a symbolic link to this target instead of a file (content is ignored). */
  symlink?: string;
}

export async function writeTree(root: string, files: readonly RenderedFile[]): Promise<void> {
  for (const file of files) {
    const target = join(root, file.path);
    await mkdir(dirname(target), { recursive: true });
    if (file.symlink !== undefined) {
      await symlink(file.symlink, target);
      continue;
    }
    await writeFile(target, file.content);
    await chmod(target, file.mode ?? 0o644);
  }
}
