import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { ConfigError, loadConfig, parseConfig } from "../../src/config/load.js";

const example = join(import.meta.dirname, "../../examples/particleos/atomiso.toml");
const bad = join(import.meta.dirname, "../fixtures/bad/atomiso.toml");

async function problemsOf(text: string): Promise<ConfigError> {
  const dir = await mkdtemp(join(tmpdir(), "atomiso-cfg-"));
  await writeFile(join(dir, "atomiso.toml"), text);
  try {
    await loadConfig(join(dir, "atomiso.toml"));
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  throw new Error("expected a ConfigError");
}

describe("config", () => {
  it("loads the example profile with defaults filled in", async () => {
    const { config } = await loadConfig(example);
    expect(config.product).toMatchObject({ name: "ParticleOS", id: "particleos" });
    expect(config.live.suite).toBe("trixie");
    expect(config.live.mirror).toBe("http://deb.debian.org/debian");
    expect(config.live.hooks).toEqual({ pre: [], post: [] });
    expect(config.iso.compression).toBe("zstd");
    expect(config.iso.boot_timeout).toBe(5);
  });

  it("reports all three mistakes of a bad file with paths and hints", async () => {
    const err = await loadConfig(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems.map((p) => p.path).sort()).toEqual([
      "iso.volume_id",
      "live.hostnme",
      "live.suite",
    ]);
    const message = (err as ConfigError).message;
    expect(message).toContain("atomiso.toml: live.suite:");
    expect(message).toContain('hint: use a Debian suite such as "trixie"');
    expect(message).toContain('atomiso.toml: live.hostnme: unknown key "hostnme"');
    expect(message).toContain('did you mean "hostname"?');
    expect(message).toContain("atomiso.toml: iso.volume_id: must be 1 to 32 characters");
    expect(message).toContain("3 problems");
  });

  it("names missing required keys", () => {
    expect(() => parseConfig("[product]\nname = 'x'\n", "atomiso.toml")).toThrowError(
      /product\.id: is required[\s\S]*iso: is required/,
    );
  });

  it("accepts only an http(s) URL for the welcome page's internet check", async () => {
    // Into the example's own [installer.requirements] table (it declares ram_gib there).
    const text = (await readFile(example, "utf8")).replace(
      "[installer.requirements]\n",
      '[installer.requirements]\ninternet_check_url = "ftp://mirror.example.org/"\n',
    );
    expect(() => parseConfig(text, "atomiso.toml")).toThrowError(
      /installer\.requirements\.internet_check_url: expected an http:\/\/ or https:\/\/ URL/,
    );
    const ok = text.replace("ftp://", "https://");
    expect(parseConfig(ok, "atomiso.toml").installer.requirements.internet_check_url).toBe(
      "https://mirror.example.org/",
    );
  });

  it("reports TOML syntax errors with line and column", () => {
    expect(() => parseConfig("[product\nname = 1", "atomiso.toml")).toThrowError(
      /line 1, column \d+: not valid TOML/,
    );
  });

  it("checks the files the config names", async () => {
    const err = await problemsOf(`
[product]
name = "X"
id = "x"
[live]
overlay = "nope"
hooks = { post = ["missing.sh"] }
[[live.repositories]]
uri = "http://deb.example.org/debian"
suite = "stable"
signed_by = "key.asc"
[iso]
volume_id = "X"
`);
    expect(err.problems.map((p) => p.path)).toEqual([
      "branding.folder",
      "live.hooks.post[0]",
      "live.overlay",
      "live.repositories[0].signed_by",
    ]);
    expect(err.problems[3]?.message).toMatch(/file "key\.asc" not found/);
  });

  it("atomiso validate exits non-zero, prints every problem and writes nothing", async () => {
    const dir = join(import.meta.dirname, "../fixtures/bad");
    const before = await readdir(dir);
    const errors: string[] = [];
    const orig = console.error;
    console.error = (m: string) => errors.push(m);
    try {
      expect(await main(["node", "atomiso", "-c", bad, "validate"])).toBe(2);
    } finally {
      console.error = orig;
    }
    expect(errors.join("\n").match(/^atomiso\.toml: /gm)).toHaveLength(3);
    expect(await readdir(dir)).toEqual(before);
  });
});
