// The default SOURCE_DATE_EPOCH: the commit time of the latest git commit touching the
// profile's folder (real git), the environment's value first, none outside a checkout.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { resolveEpoch } from "../../src/release/epoch.js";
import { run } from "../../src/tools/exec.js";

describe("resolveEpoch", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-epoch-"));
  afterAll(() => safeRemove(work));
  const repo = join(work, "repo");
  const profile = join(repo, "profiles", "os");
  await mkdir(profile, { recursive: true });
  await writeFile(join(profile, "atomiso.toml"), "# profile\n");
  await writeFile(join(repo, "README"), "other\n");
  const git = (args: string[], date: string) =>
    run(["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], {
      env: { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
    });
  await run(["git", "init", "-q", repo]);
  await git(["add", "profiles"], "@1700000000 +0000");
  await git(["commit", "-q", "-m", "profile"], "@1700000000 +0000");
  // A later commit elsewhere in the repository does not move the profile's epoch.
  await git(["add", "README"], "@1800000000 +0000");
  await git(["commit", "-q", "-m", "readme"], "@1800000000 +0000");

  it("takes the profile folder's last commit time", async () => {
    expect(await resolveEpoch(profile, {})).toEqual({ epoch: 1700000000, source: "git" });
  });

  it("prefers SOURCE_DATE_EPOCH from the environment", async () => {
    expect(await resolveEpoch(profile, { SOURCE_DATE_EPOCH: "42" })).toEqual({
      epoch: 42,
      source: "SOURCE_DATE_EPOCH",
    });
  });

  it("reads a checkout another user owns (sudo atomiso build in a user's clone)", async () => {
    await run(["chown", "-R", "nobody", repo]);
    expect(await resolveEpoch(profile, {})).toEqual({ epoch: 1700000000, source: "git" });
  });

  it("has none outside a git checkout", async () => {
    const plain = join(work, "plain");
    await mkdir(plain);
    expect(await resolveEpoch(plain, {})).toEqual({ source: "none" });
  });
});
