// What a stage is: data plus a run function. A stage has a permanent id, a title, the host
// tools it needs, and serializable options; its cache key is a hash of its id, its code (the
// module that defines it with everything that module imports and the package files they name,
// derived in plan/code-closure.ts), its options and the keys of the stages it reads from.
// Stages never read the config or process.env: everything comes through options and the context.
import type { Reporter } from "../log/reporter.js";

/** Every stage's permanent id, in build order. */
export const STAGE_IDS = [
  "bootstrap",
  "calamares",
  "live-config",
  "squashfs-base",
  "squashfs-config",
  "kernel",
  "boot-files",
  "payload",
  "iso",
] as const;

export type StageId = (typeof STAGE_IDS)[number];

export interface StageContext {
  reporter: Reporter;
  /** Empty directory the stage fills; renamed into the cache when the stage succeeds. */
  outDir: string;
  /** Scratch space, deleted after the stage (never inside outDir). */
  tmpDir: string;
  /** Output directories of the stages this one reads, by id. */
  inputs: Partial<Record<StageId, string>>;
  /** Shared apt package cache (downloaded .debs), outside the repository. */
  aptCacheDir: string;
}

export interface StageDefinition<O> {
  id: StageId;
  title: string;
  /** Host commands the stage runs (checked by `atomiso doctor` and before a build). */
  tools: string[];
  /**
   * import.meta.url of the module that defines the stage: its code closure (imports, scripts and
   * templates it names) is part of its cache key.
   */
  module: string;
  run(ctx: StageContext, options: O): Promise<void>;
}

/** One planned stage: a definition bound to options and dependencies. */
export interface PlannedStage<O = unknown> {
  definition: StageDefinition<O>;
  options: O;
  /** Stages whose outputs this one reads. */
  after: StageId[];
  /** The options as they enter the cache key (host paths replaced by content hashes). */
  keyOptions: unknown;
  /** Hashes of files the options point at (keys, overlays, hooks, host boot files). */
  contentKeys: Record<string, string>;
}
