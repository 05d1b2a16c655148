// Stage keys cover a stage's whole code and nothing else: on a copy of the package, changing any
// file in a stage's derived closure changes its key, and changing any other file does not.
import {
  appendFile,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/paths.js";
import {
  type CodeClosure,
  codeClosure,
  lex,
  moduleOf,
  pathLiterals,
  runtimeImports,
  sourceTree,
  stageCodeHash,
} from "../../src/plan/code-closure.js";
import { bootFilesStage } from "../../src/stages/boot-files.js";
import { bootstrapStage } from "../../src/stages/bootstrap.js";
import { calamaresStage } from "../../src/stages/calamares.js";
import { isoStage } from "../../src/stages/iso.js";
import { kernelStage } from "../../src/stages/kernel.js";
import { liveConfigStage } from "../../src/stages/live-config.js";
import { payloadStage } from "../../src/stages/payload.js";
import { squashfsBaseStage, squashfsConfigStage } from "../../src/stages/squashfs.js";
import { STAGE_IDS, type StageDefinition } from "../../src/stages/stage.js";

const STAGES: StageDefinition<never>[] = [
  bootstrapStage,
  calamaresStage,
  liveConfigStage,
  squashfsBaseStage,
  squashfsConfigStage,
  kernelStage,
  bootFilesStage,
  payloadStage,
  isoStage,
] as StageDefinition<never>[];

/** What the hand-kept recipe lists named: the derivation must find at least all of it. */
const OLD_RECIPES: Record<string, string[]> = {
  bootstrap: [
    "src/stages/bootstrap.ts",
    "src/tools/mmdebstrap.ts",
    "libexec/mmdebstrap-setup",
    "libexec/mmdebstrap-customize",
  ],
  calamares: [
    "src/stages/calamares.ts",
    "src/render/calamares/render.ts",
    "src/render/png.ts",
    "branding/show.qml.ejs",
    // in no recipe before: the renderers the stage runs
    "src/render/ejs.ts",
    "src/render/file-tree.ts",
  ],
  "live-config": [
    "src/stages/live-config.ts",
    "src/render/live-files.ts",
    "libexec/live-config-session",
    "libexec/live-configure",
    "src/install/install-plan.ts",
    "installer-scripts/live",
    "installer-scripts/deploy",
    "installer-scripts/install",
    "calamares/modules",
    "src/render/ini.ts",
    "src/render/file-tree.ts",
  ],
  "squashfs-base": ["src/stages/squashfs.ts", "src/tools/mksquashfs.ts"],
  "squashfs-config": ["src/stages/squashfs.ts", "src/tools/mksquashfs.ts"],
  kernel: ["src/stages/kernel.ts"],
  "boot-files": [
    "src/stages/boot-files.ts",
    "src/tools/grub.ts",
    "src/tools/fat.ts",
    "src/render/grub-cfg.ts",
    "src/render/templates/grub.cfg.ejs",
    "src/render/ejs.ts",
  ],
  payload: ["src/stages/payload.ts", "src/image/podman.ts"],
  iso: ["src/stages/iso.ts", "src/tools/xorriso.ts", "src/install/install-plan.ts"],
};

const PACKAGE_DIRS = ["src", "libexec", "installer-scripts", "calamares", "branding"];
const ASSET_PREFIXES = [
  "libexec/",
  "installer-scripts/",
  "calamares/",
  "branding/",
  "src/render/templates/",
];

async function filesUnder(root: string, dir: string): Promise<string[]> {
  const entries = await readdir(join(root, dir), { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && !e.parentPath.includes("__pycache__"))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

/** Every file a closure covers (named folders expanded). */
async function closureFiles(root: string, c: CodeClosure): Promise<Set<string>> {
  const files = new Set(c.modules);
  for (const a of c.assets) {
    const inside = await filesUnder(root, a).catch(() => [a]);
    for (const f of inside) files.add(f);
  }
  return files;
}

let copy: string;
beforeAll(async () => {
  copy = await mkdtemp(join(tmpdir(), "atomiso-stage-keys-"));
  for (const d of PACKAGE_DIRS) {
    await cp(join(packageRoot, d), join(copy, d), {
      recursive: true,
      filter: (src) => !src.includes("__pycache__"),
    });
  }
  await cp(join(packageRoot, "package.json"), join(copy, "package.json"));
  await symlink(join(packageRoot, "node_modules"), join(copy, "node_modules"));
});
afterAll(() => rm(copy, { recursive: true, force: true }));

describe("stage code closures", () => {
  it("every stage is listed here, and names its own module", async () => {
    expect(STAGES.map((s) => s.id)).toEqual([...STAGE_IDS]);
    for (const s of STAGES) {
      const mod = moduleOf(s.module);
      const exported = Object.values(await import(join(packageRoot, mod)));
      expect(exported, `${s.id} in ${mod}`).toContain(s);
    }
  });

  it("find at least what the hand-kept recipes named, and the renderers they missed", async () => {
    for (const s of STAGES) {
      const c = await codeClosure(moduleOf(s.module));
      expect([...c.modules, ...c.assets], s.id).toEqual(
        expect.arrayContaining(OLD_RECIPES[s.id] ?? []),
      );
      expect(c.modules).toContain(moduleOf(s.module));
    }
  });

  it("cover every script and template of the package, except those no stage runs", async () => {
    // A file read through a computed path would be missed by the derivation: it shows up here.
    const NOT_STAGE_CODE: Record<string, string> = {
      "libexec/image-base-customize": "the image pipeline's base root (src/image/base-root.ts)",
      "libexec/when-parent-exits": "the watchdog of `image lint` (src/tools/spawn.ts)",
      "installer-scripts/update/atomiso-update":
        "the system image's update layer (src/image/update-layer.ts; podman hashes what it copies)",
      "installer-scripts/update/atomiso-update.service": "the system image's update layer",
      "installer-scripts/update/atomiso-update.timer": "the system image's update layer",
    };
    const covered = new Set<string>();
    for (const s of STAGES) {
      const files = await closureFiles(packageRoot, await codeClosure(moduleOf(s.module)));
      for (const f of files) covered.add(f);
    }
    const assets = (
      await Promise.all(ASSET_PREFIXES.map((p) => filesUnder(packageRoot, p.replace(/\/$/, ""))))
    ).flat();
    expect(assets.length).toBeGreaterThan(20);
    const missed = assets.filter((f) => !covered.has(f) && !(f in NOT_STAGE_CODE));
    expect(missed).toEqual([]);
  });

  it("change with every file in them and with no file outside them", async () => {
    const universe = (await Promise.all(PACKAGE_DIRS.map((d) => filesUnder(copy, d)))).flat();
    const closures = new Map<string, Set<string>>();
    const base = new Map<string, string>();
    for (const s of STAGES) {
      closures.set(
        s.id,
        await closureFiles(copy, await codeClosure(moduleOf(s.module, copy), copy)),
      );
      base.set(s.id, await stageCodeHash(s.module, copy));
    }
    let inside = 0;
    let outside = 0;
    for (const file of universe) {
      const path = join(copy, file);
      const original = await readFile(path);
      await appendFile(path, "\n");
      try {
        for (const s of STAGES) {
          const changed = (await stageCodeHash(s.module, copy)) !== base.get(s.id);
          const covered = closures.get(s.id)?.has(file) ?? false;
          expect(changed, `${s.id}: ${file} is ${covered ? "in" : "outside"} its closure`).toBe(
            covered,
          );
          if (covered) inside++;
          else outside++;
        }
      } finally {
        await writeFile(path, original);
      }
    }
    // Sanity: both kinds were exercised for real.
    expect(inside).toBeGreaterThan(100);
    expect(outside).toBeGreaterThan(100);
    for (const s of STAGES) expect(await stageCodeHash(s.module, copy)).toBe(base.get(s.id));
  }, 120_000);

  it("change when an npm package they import changes version", async () => {
    const closure = await codeClosure(moduleOf(bootstrapStage.module, copy), copy);
    expect(closure.packages).toEqual([expect.stringMatching(/^execa@\d/)]);
    const before = await stageCodeHash(bootstrapStage.module, copy);
    const kernelBefore = await stageCodeHash(kernelStage.module, copy);
    const modules = join(copy, "node_modules");
    await rm(modules);
    await mkdir(join(modules, "execa"), { recursive: true });
    await writeFile(join(modules, "execa/package.json"), '{"version":"0.0.0-test"}');
    try {
      expect(await stageCodeHash(bootstrapStage.module, copy)).not.toBe(before);
      // The kernel stage imports no npm package.
      expect(await stageCodeHash(kernelStage.module, copy)).toBe(kernelBefore);
    } finally {
      await rm(modules, { recursive: true });
      await symlink(join(packageRoot, "node_modules"), modules);
    }
  });

  it("are read from dist/ in a package without sources, module for module", async () => {
    const dist = await mkdtemp(join(tmpdir(), "atomiso-stage-keys-dist-"));
    try {
      for (const d of PACKAGE_DIRS.filter((d) => d !== "src"))
        await cp(join(copy, d), join(dist, d), { recursive: true });
      // What tsc writes, module for module (transpiled only: the types are checked elsewhere).
      for (const f of (await filesUnder(copy, "src")).filter((f) => f.endsWith(".ts"))) {
        const out = join(dist, "dist", f.slice("src/".length).replace(/\.ts$/, ".js"));
        const { outputText } = ts.transpileModule(await readFile(join(copy, f), "utf8"), {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023 },
          fileName: f,
        });
        await mkdir(dirname(out), { recursive: true });
        await writeFile(out, outputText);
      }
      await symlink(join(packageRoot, "node_modules"), join(dist, "node_modules"));
      expect(sourceTree(dist)).toBe("dist");
      for (const s of [
        bootstrapStage,
        bootFilesStage,
        liveConfigStage,
      ] as StageDefinition<never>[]) {
        const fromSrc = await codeClosure(moduleOf(s.module));
        const fromDist = await codeClosure(moduleOf(s.module, dist), dist);
        expect(fromDist.modules).toEqual(
          fromSrc.modules.map((m) => m.replace(/^src\//, "dist/").replace(/\.ts$/, ".js")),
        );
        expect(fromDist.packages).toEqual(fromSrc.packages);
      }
    } finally {
      await rm(dist, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("import and path parsing", () => {
  /** Run-time import specifiers by the TypeScript compiler's own parser. */
  function tsRuntimeImports(file: string, text: string): string[] {
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const found = new Set<string>();
    const visit = (node: ts.Node) => {
      if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly)
        found.add((node.moduleSpecifier as ts.StringLiteral).text);
      if (ts.isExportDeclaration(node) && node.moduleSpecifier && !node.isTypeOnly)
        found.add((node.moduleSpecifier as ts.StringLiteral).text);
      if (
        ts.isCallExpression(node) &&
        node.expression.kind === ts.SyntaxKind.ImportKeyword &&
        node.arguments[0] &&
        ts.isStringLiteral(node.arguments[0])
      )
        found.add(node.arguments[0].text);
      ts.forEachChild(node, visit);
    };
    visit(sf);
    return [...found].sort();
  }

  it("agrees with the TypeScript parser on every module under src/", async () => {
    const files = (await filesUnder(packageRoot, "src")).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(50);
    for (const f of files) {
      const text = await readFile(join(packageRoot, f), "utf8");
      expect(runtimeImports(text).sort(), f).toEqual(tsRuntimeImports(f, text));
    }
  });

  it("reads strings past comments and regular expressions", () => {
    const { literals } = lex(
      [
        `// it's "not/a-string" in a comment`,
        `const re = /["'\`]/g; const x = a / b / c; /* "no/pe" */`,
        `const y = "libexec/one"; const t = \`src/two\`; const u = \`\${y}/x\`;`,
        `const z = 'installer-scripts/three';`,
      ].join("\n"),
    );
    expect(literals).toEqual(["libexec/one", "src/two", "installer-scripts/three"]);
    expect(
      pathLiterals('import { libexecDir } from "../paths.js"; join(libexecDir, "hook")'),
    ).toEqual(["libexec/hook"]);
  });

  it("every package path the code names exists (a typo would silently drop it from a key)", async () => {
    const files = (await filesUnder(packageRoot, "src")).filter((f) => f.endsWith(".ts"));
    for (const f of files) {
      const text = await readFile(join(packageRoot, f), "utf8");
      const named = lex(text).literals.filter((l) => ASSET_PREFIXES.some((p) => l.startsWith(p)));
      for (const path of named) {
        const exists = await readdir(join(packageRoot, path)).then(
          () => true,
          () =>
            readFile(join(packageRoot, path)).then(
              () => true,
              () => false,
            ),
        );
        expect(exists, `${f} names ${path}`).toBe(true);
      }
    }
  });
});
