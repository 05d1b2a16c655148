// Runs a plan: each stage is reused from the cache when its key matches, otherwise run in a
// temp dir and committed; the finished ISO is then placed at the output path atomically.
import { copyFile, link, mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { withCacheLock } from "../cache/lock.js";
import { StageStore } from "../cache/store.js";
import { AtomisoError } from "../errors.js";
import type { Reporter } from "../log/reporter.js";
import { safeRemove } from "../mounts/safe-remove.js";
import type { Plan } from "../plan/plan.js";
import { ISO_NAME } from "../stages/iso.js";
import type { StageId } from "../stages/stage.js";
import { wasInterrupted, withInterruptHandling } from "./interrupt.js";

export interface RunPlanOptions {
  cacheDir: string;
  reporter: Reporter;
  /** Stop after this stage (e.g. "bootstrap"); the ISO is only written when the plan completes. */
  until?: StageId;
  /** Rebuild these stages even when cached. */
  rebuild?: StageId[];
}

export interface StageReport {
  id: StageId;
  cached: boolean;
  ms: number;
  dir: string;
}

export interface RunPlanResult {
  stages: StageReport[];
  /** Path of the ISO, when the whole plan ran. */
  iso?: string;
}

async function placeOutput(source: string, target: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  // Already the same file (a rebuild with nothing changed): rename() would silently keep both
  // names, leaving the temp name behind.
  const [src, dst] = await Promise.all([stat(source), stat(target).catch(() => undefined)]);
  if (dst && dst.ino === src.ino && dst.dev === src.dev) return;
  const temp = `${target}.partial-${process.pid}`;
  await rm(temp, { force: true });
  try {
    await link(source, temp);
  } catch {
    await copyFile(source, temp);
  }
  await rename(temp, target);
}

export async function runPlan(plan: Plan, options: RunPlanOptions): Promise<RunPlanResult> {
  const { reporter } = options;
  const store = new StageStore(options.cacheDir);
  const onWait = (holder: string) =>
    reporter.info(`waiting for the cache ${options.cacheDir}: it is in use by ${holder}`);
  return withInterruptHandling(() =>
    withCacheLock(options.cacheDir, { onWait }, () => runLocked(plan, store, options)),
  );
}

async function runLocked(
  plan: Plan,
  store: StageStore,
  options: RunPlanOptions,
): Promise<RunPlanResult> {
  const { reporter } = options;
  const stale = await store.removeStaleTemps();
  if (stale.removed.length > 0)
    reporter.info(`removed ${stale.removed.length} temp dir(s) left by an interrupted build`);
  for (const { name, users } of stale.kept) {
    const who = users.map((u) => `${u.name} (pid ${u.pid}, ${u.how})`).join(", ");
    reporter.warn(`kept ${join(store.root, "tmp", name)}: still in use by ${who}`);
  }
  const dirs: Partial<Record<StageId, string>> = {};
  const reports: StageReport[] = [];
  for (const { stage, key } of plan.steps) {
    const { definition } = stage;
    const id = definition.id;
    const started = Date.now();
    if (store.has(id, key) && !options.rebuild?.includes(id)) {
      dirs[id] = store.outputDir(id, key);
      await store.touch(id, key);
      reporter.info(`✔ ${definition.title} (cached ${key.slice(0, 12)})`);
      reports.push({ id, cached: true, ms: 0, dir: dirs[id] });
    } else {
      await reporter.step(definition.title, async () => {
        const temp = await store.makeTemp(id);
        const outDir = join(temp, "out");
        const tmpDir = join(temp, "scratch");
        await mkdir(outDir, { recursive: true });
        await mkdir(tmpDir, { recursive: true });
        try {
          const inputs: Partial<Record<StageId, string>> = {};
          for (const dep of stage.after) inputs[dep] = dirs[dep];
          await definition.run(
            { reporter, outDir, tmpDir, inputs, aptCacheDir: store.aptCacheDir },
            stage.options,
          );
          if (wasInterrupted()) throw new AtomisoError("interrupted", "interrupted");
          dirs[id] = await store.commit(outDir, id, key);
        } finally {
          await safeRemove(temp);
        }
      });
      reports.push({ id, cached: false, ms: Date.now() - started, dir: dirs[id] ?? "" });
    }
    if (options.until === id) return { stages: reports };
  }
  const isoDir = dirs.iso;
  if (!isoDir) return { stages: reports };
  await placeOutput(join(isoDir, ISO_NAME), plan.output);
  const pruned = await store.prune(new Map(plan.steps.map((s) => [s.stage.definition.id, s.key])));
  if (pruned.length > 0) reporter.info(`cache: removed ${pruned.length} outdated stage output(s)`);
  return { stages: reports, iso: plan.output };
}
