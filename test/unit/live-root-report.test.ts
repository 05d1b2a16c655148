// The live root's package report counts each package's regular files as they are in the root
// (files dpkg's excludes left out count nothing), biggest first.
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { livePackageSizes } from "../../src/bench/live-root-report.js";

describe("live root package report", async () => {
  const root = await mkdtemp(join(tmpdir(), "atomiso-report-"));
  afterAll(() => rm(root, { recursive: true, force: true }));
  const info = join(root, "var/lib/dpkg/info");
  await mkdir(info, { recursive: true });
  await mkdir(join(root, "usr/bin"), { recursive: true });
  await writeFile(join(root, "usr/bin/big"), Buffer.alloc(3000));
  await writeFile(join(root, "usr/bin/small"), Buffer.alloc(10));
  await symlink("big", join(root, "usr/bin/link"));
  await writeFile(
    join(info, "big:amd64.list"),
    "/.\n/usr\n/usr/bin\n/usr/bin/big\n/usr/bin/link\n",
  );
  // /usr/share/doc/small/changelog.gz was excluded: listed, not present.
  await writeFile(join(info, "small.list"), "/usr/bin/small\n/usr/share/doc/small/changelog.gz\n");

  it("sums the regular files present, biggest first", async () => {
    expect(await livePackageSizes(root)).toEqual([
      { name: "big", bytes: 3000 },
      { name: "small", bytes: 10 },
    ]);
  });
});
