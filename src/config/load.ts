// Reads atomiso.toml, validates it against the schema and checks the files it names, reporting
// every problem in one pass. Loading never writes anything. The installer's own checks (the
// rendered Calamares configuration) are the commands' job: see render/calamares/validate.ts.
import { readFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { parse, TomlError } from "smol-toml";
import { z } from "zod";
import { AtomisoError } from "../errors.js";
import { unprintable } from "./fields.js";
import { checkFiles } from "./files.js";
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

function controlProblems(value: unknown, path: PropertyKey[]): Problem[] {
  if (typeof value === "string") {
    const bad = unprintable(value);
    return bad
      ? [
          {
            path: formatPath(path),
            message: `contains the control character ${bad}; only printable text`,
          },
        ]
      : [];
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => controlProblems(v, [...path, i]));
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.entries(value).flatMap(([k, v]) => {
      const bad = unprintable(k);
      if (bad)
        return [{ path: formatPath(path), message: `a key contains the control character ${bad}` }];
      return controlProblems(v, [...path, k]);
    });
  }
  return [];
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
  // No control character anywhere, whatever the key: none of the targets can carry one.
  const control = controlProblems(raw, []);
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success || control.length > 0) {
    const seen = new Set(control.map((p) => p.path));
    const schema = result.success ? [] : problemsFromZod(result.error, keysAt);
    throw new ConfigError(file, [...control, ...schema.filter((p) => !seen.has(p.path))]);
  }
  return result.data;
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
  if (config) problems = await checkFiles(config, dir);
  if (problems.length > 0 || !config) throw new ConfigError(abs, problems);
  return { config, file: abs, dir };
}
