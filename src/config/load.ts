// Reads atomiso.toml, validates it against the schema and checks the files it names, reporting
// every problem in one pass. Loading never writes anything.
import { constants } from "node:fs";
import { access, readFile, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { parse, TomlError } from "smol-toml";
import { z } from "zod";
import { AtomisoError } from "../errors.js";
import { validateCalamares } from "../render/calamares/validate.js";
import { calamaresOptionsFor } from "./calamares-options.js";
import { resolveFrom } from "./paths.js";
import { formatPath, formatProblems, type Problem, problemsFromZod } from "./problems.js";
import { type Config, configSchema } from "./schema.js";

export interface LoadedConfig {
  config: Config;
  /** Absolute path of atomiso.toml. */
  file: string;
  /** Directory that relative paths in the config are resolved against. */
  dir: string;
}

export class ConfigError extends AtomisoError {
  readonly problems: Problem[];
  constructor(file: string, problems: Problem[]) {
    const n = problems.length;
    super(
      "config-invalid",
      `${formatProblems(basename(file), problems)}\n${n} problem${n === 1 ? "" : "s"} in ${file}; nothing was written`,
      undefined,
      2,
    );
    this.problems = problems;
  }
}

function keysAt(path: readonly PropertyKey[]): string[] {
  let node: z.ZodType = configSchema;
  for (const part of path) {
    node = unwrap(node);
    if (node instanceof z.ZodObject) node = node.shape[String(part)] ?? node;
    else if (node instanceof z.ZodArray) node = node.element as z.ZodType;
  }
  node = unwrap(node);
  return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}

function unwrap(node: z.ZodType): z.ZodType {
  let n: z.ZodType = node;
  for (;;) {
    if (n instanceof z.ZodDefault || n instanceof z.ZodOptional || n instanceof z.ZodPrefault) {
      n = n.unwrap() as z.ZodType;
    } else return n;
  }
}

/** Parses and validates TOML text; throws ConfigError listing every problem. */
export function parseConfig(text: string, file: string): Config {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    if (err instanceof TomlError) {
      throw new ConfigError(file, [
        {
          path: `line ${err.line}, column ${err.column}`,
          message: `not valid TOML: ${err.message.split("\n")[0]}`,
        },
      ]);
    }
    throw err;
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(file, problemsFromZod(result.error, keysAt));
  return result.data;
}

async function checkFiles(config: Config, dir: string): Promise<Problem[]> {
  const problems: Problem[] = [];
  const must = async (
    path: PropertyKey[],
    value: string,
    kind: "file" | "dir" | "exec",
    hint: string,
  ) => {
    const abs = resolveFrom(dir, value);
    try {
      const s = await stat(abs);
      if (kind === "dir" && !s.isDirectory()) throw new Error("not a directory");
      if (kind !== "dir" && !s.isFile()) throw new Error("not a file");
      if (kind === "exec") await access(abs, constants.X_OK);
    } catch {
      const what = kind === "dir" ? "folder" : kind === "exec" ? "executable file" : "file";
      problems.push({
        path: formatPath(path),
        message: `${what} "${value}" not found (looked at ${abs})`,
        hint,
      });
    }
  };
  const checks: Promise<void>[] = [];
  config.live.repositories.forEach((repo, i) => {
    checks.push(
      must(
        ["live", "repositories", i, "signed_by"],
        repo.signed_by,
        "file",
        "put the key file next to atomiso.toml or give an absolute path",
      ),
    );
  });
  if (config.live.overlay) {
    checks.push(
      must(["live", "overlay"], config.live.overlay, "dir", "create the folder or remove the key"),
    );
  }
  for (const phase of ["pre", "post"] as const) {
    config.live.hooks[phase].forEach((hook, i) => {
      checks.push(
        must(["live", "hooks", phase, i], hook, "exec", `create the script and \`chmod +x\` it`),
      );
    });
  }
  checks.push(
    must(
      ["branding", "folder"],
      config.branding.folder,
      "dir",
      "run `atomiso init` to get a starter branding folder",
    ),
  );
  config.branding.slides.forEach((slide, i) => {
    const image = join(resolveFrom(dir, config.branding.folder), slide.image);
    checks.push(
      must(
        ["branding", "slides", i, "image"],
        image,
        "file",
        "put the slide image in the branding folder",
      ),
    );
  });
  if (config.image) {
    checks.push(
      must(
        ["image", "containerfile"],
        config.image.containerfile,
        "file",
        "give the Containerfile's path relative to atomiso.toml",
      ),
      must(
        ["image", "context"],
        config.image.context,
        "dir",
        "give the build context folder relative to atomiso.toml",
      ),
    );
  }
  await Promise.all(checks);
  return problems.sort((a, b) => a.path.localeCompare(b.path));
}

/** Loads atomiso.toml from disk: syntax, schema and referenced files, all problems at once. */
export async function loadConfig(file: string): Promise<LoadedConfig> {
  const abs = resolve(file);
  let text: string;
  try {
    text = await readFile(abs, "utf8");
  } catch {
    throw new AtomisoError(
      "config-not-found",
      `no config at ${abs}`,
      "pass --config <file>, or run `atomiso init` to write a starter atomiso.toml",
      2,
    );
  }
  const dir = dirname(abs);
  let config: Config | undefined;
  let problems: Problem[] = [];
  try {
    config = parseConfig(text, abs);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems = err.problems;
  }
  if (config)
    problems = [
      ...(await checkFiles(config, dir)),
      ...validateCalamares(calamaresOptionsFor(config, dir)),
    ];
  if (problems.length > 0 || !config) throw new ConfigError(abs, problems);
  return { config, file: abs, dir };
}
