// src/config is the lowest layer of the profile's path: it must not reach up into the
// renderers (issue 10: the Calamares check is the commands' job, see render/calamares/validate.ts).
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const configDir = join(import.meta.dirname, "../../src/config");

describe("config layer", () => {
  it("no module of src/config imports a renderer (types excepted)", async () => {
    const files = (await readdir(configDir)).filter((f) => f.endsWith(".ts"));
    expect(files).toContain("load.ts");
    for (const f of files) {
      const text = await readFile(join(configDir, f), "utf8");
      const imports = [...text.matchAll(/^import (type )?[^;]*from "([^"]+)";/gms)]
        .filter((m) => !m[1])
        .map((m) => m[2]);
      expect(
        imports.filter((i) => i?.includes("/render/")),
        f,
      ).toEqual([]);
    }
  });
});
