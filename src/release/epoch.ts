// SOURCE_DATE_EPOCH for a build: the environment's value when set; otherwise the commit time of
// the latest git commit that touched the profile's folder (stable: the same checkout gives the
// same value on every machine, and it moves only when the profile does); otherwise none, and
// the build is not reproducible (timestamps are the build's own). The manifest records which.
import { AtomisoError } from "../errors.js";
import { run } from "../tools/exec.js";

export type EpochSource = "SOURCE_DATE_EPOCH" | "git" | "none";

export interface BuildEpoch {
  epoch?: number;
  source: EpochSource;
}

export function epochFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d{1,12}$/.test(raw)) {
    throw new AtomisoError(
      "usage",
      `SOURCE_DATE_EPOCH="${raw}" is not a number of seconds`,
      "unset it or give an integer such as 1700000000",
    );
  }
  return Number(raw);
}

/**
 * `git log -1 --format=%ct -- .` in the profile's folder. `sudo atomiso build` reads a checkout
 * another user owns, which git refuses ("dubious ownership") unless told; reading one commit
 * time runs no hook, pager, fsmonitor or diff driver from the repository's config.
 */
export function gitEpochArgv(dir: string): string[] {
  return [
    "git",
    "-c",
    "safe.directory=*",
    "-c",
    "core.fsmonitor=false",
    "--no-pager",
    "-C",
    dir,
    "log",
    "-1",
    "--no-show-signature",
    "--format=%ct",
    "--",
    ".",
  ];
}

export async function resolveEpoch(profileDir: string, env = process.env): Promise<BuildEpoch> {
  const fromEnv = epochFromEnv(env);
  if (fromEnv !== undefined) return { epoch: fromEnv, source: "SOURCE_DATE_EPOCH" };
  // Not a checkout, no git, or no commit yet: no default.
  const r = await run(gitEpochArgv(profileDir), { okExitCodes: [0, 128] }).catch(() => undefined);
  const out = r?.exitCode === 0 ? r.stdout.trim() : "";
  if (/^\d+$/.test(out)) return { epoch: Number(out), source: "git" };
  return { source: "none" };
}

/** planIso's epochs: every stage gets the build's epoch, shared base stages only one the user set. */
export function planEpochs(e: BuildEpoch): { epoch?: number; baseEpoch?: number } {
  if (e.epoch === undefined) return {};
  return e.source === "SOURCE_DATE_EPOCH"
    ? { epoch: e.epoch, baseEpoch: e.epoch }
    : { epoch: e.epoch };
}
