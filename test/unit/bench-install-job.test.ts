// The install-job bench's parsing and table: phases from the backend's atomiso-timing lines,
// each install's total against the baseline's.
import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findPayload, formatInstallJob, parseTimings } from "../../src/bench/install-job.js";

const work = await mkdtemp(join(tmpdir(), "atomiso-bench-install-"));
afterAll(() => rm(work, { recursive: true, force: true }));

describe("install-job bench", () => {
  it("reads the phases of a backend's output and ignores everything else", () => {
    const out = [
      "atomiso-progress 10 Unpacking layer 1 of 2",
      "atomiso-timing verify 0.3",
      "atomiso: image verified",
      "atomiso-timing unpack 9.25",
      "atomiso-timing total 18.1",
      "atomiso-timing broken x",
    ].join("\n");
    expect(parseTimings(out)).toEqual({ verify: 0.3, unpack: 9.25, total: 18.1 });
  });

  it("prints each install's phases and its total against the first", () => {
    const lines = formatInstallJob([
      { name: "before", timings: { unpack: 9, commit: 3, total: 20 } },
      { name: "after", timings: { unpack: 2, commit: 3, sync: 0, total: 10 } },
    ]);
    expect(lines[0]).toMatch(/baseline: before\)$/);
    expect(lines[1]).toMatch(/unpack +commit +sync +total +vs baseline$/);
    expect(lines[2]).toMatch(/^ {2}before +9\.0 s +3\.0 s +- +20\.0 s +1\.00×$/);
    expect(lines[3]).toMatch(/^ {2}after +2\.0 s +3\.0 s +0\.0 s +10\.0 s +0\.50×$/);
    expect(formatInstallJob([])).toEqual([]);
  });

  it("finds the newest payload stage in a stage cache", async () => {
    expect(await findPayload(join(work, "none"))).toBeUndefined();
    for (const [name, t] of [
      ["payload-aaaa", 1_000_000],
      ["payload-bbbb", 2_000_000],
      ["kernel-cccc", 3_000_000],
    ] as const) {
      const dir = join(work, "stages", name, "payload");
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, "index.json"), "{}");
      await utimes(dir, t, t);
    }
    expect(await findPayload(work)).toBe(join(work, "stages/payload-bbbb/payload"));
  });
});
