// argv builders, progress parsers, the base root's key and the [image] config section.
import { mkdtemp, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseConfig } from "../../src/config/load.js";
import { IMAGE_BASE_PACKAGES } from "../../src/config/schema.js";
import { AtomisoError } from "../../src/errors.js";
import { baseRootImage, baseRootKey, baseRootMmdebstrapArgv } from "../../src/image/base-root.js";
import { parseInspect } from "../../src/image/inspect.js";
import {
  buildProgress,
  podmanBuildArgv,
  podmanImportArgv,
  podmanPullArgv,
  podmanPushArgv,
  podmanPushZstdLayoutArgv,
  pushProgressTracker,
  skopeoCopyArgv,
  skopeoInspectDigestArgv,
  skopeoPushLayoutArgv,
} from "../../src/image/podman.js";
import { channelReference } from "../../src/image/push.js";
import { type BaseRootSettings, imageSettings } from "../../src/image/settings.js";
import { writeUpdateLayerContext } from "../../src/image/update-layer.js";
import { libexecDir } from "../../src/paths.js";

const example = join(import.meta.dirname, "../../examples/particleos/atomiso.toml");
const repo = join(import.meta.dirname, "../..");
const work = await mkdtemp(join(tmpdir(), "atomiso-image-argv-"));
afterAll(() => rm(work, { recursive: true, force: true }));

const BASE: BaseRootSettings = {
  name: "localhost/atomiso/base",
  buildArg: "BASE_IMAGE",
  suite: "trixie",
  mirror: "http://deb.debian.org/debian",
  components: ["main"],
  variant: "minbase",
  packages: [...IMAGE_BASE_PACKAGES].sort(),
  arch: "amd64",
};

describe("podman and skopeo argv", () => {
  it("builds with the Containerfile, sorted build args, the layer cache and an iid file", () => {
    expect(
      podmanBuildArgv({
        containerfile: "/c/Containerfile",
        context: "/c",
        tag: "localhost/x:1",
        buildArgs: { VERSION: "1", BASE_IMAGE: "localhost/b:k" },
        iidFile: "/t/iid",
      }),
    ).toEqual([
      "podman",
      "build",
      "--file",
      "/c/Containerfile",
      "--tag",
      "localhost/x:1",
      "--format",
      "oci",
      "--layers=true",
      "--iidfile",
      "/t/iid",
      "--build-arg",
      "BASE_IMAGE=localhost/b:k",
      "--build-arg",
      "VERSION=1",
      "/c",
    ]);
    expect(
      podmanBuildArgv({
        containerfile: "f",
        context: "c",
        tag: "t",
        buildArgs: {},
        iidFile: "i",
        noCache: true,
      }),
    ).toContain("--no-cache");
  });

  it("imports a tarball with labels", () => {
    expect(
      podmanImportArgv({
        tarball: "/w/base.tar",
        name: "localhost/b:k",
        labels: { a: "x y" },
        message: "m",
      }),
    ).toEqual([
      "podman",
      "import",
      "--change",
      'LABEL a="x y"',
      "--message",
      "m",
      "/w/base.tar",
      "localhost/b:k",
    ]);
  });

  it("pushes zstd layers through a fresh OCI layout, then byte for byte to the registry", () => {
    expect(podmanPushZstdLayoutArgv("localhost/x:1", "/t/layout", "push")).toEqual([
      "podman",
      "push",
      "--quiet",
      "--compression-format",
      "zstd",
      "localhost/x:1",
      "oci:/t/layout:push",
    ]);
    expect(
      skopeoPushLayoutArgv({
        layoutDir: "/t/layout",
        tag: "push",
        destination: "127.0.0.1:5000/x:1",
        digestFile: "/t/d",
        tlsVerify: false,
        authFile: "/a.json",
      }),
    ).toEqual([
      "skopeo",
      "copy",
      "--preserve-digests",
      "--dest-tls-verify=false",
      "--dest-authfile",
      "/a.json",
      "--digestfile",
      "/t/d",
      "oci:/t/layout:push",
      "docker://127.0.0.1:5000/x:1",
    ]);
  });

  it("pushes and inspects with --tls-verify and an optional auth file", () => {
    expect(
      podmanPushArgv({
        source: "localhost/x:1",
        destination: "127.0.0.1:5000/x:1",
        digestFile: "/t/d",
        tlsVerify: false,
        authFile: "/a.json",
      }),
    ).toEqual([
      "podman",
      "push",
      "--tls-verify=false",
      "--authfile",
      "/a.json",
      "--digestfile",
      "/t/d",
      "localhost/x:1",
      "docker://127.0.0.1:5000/x:1",
    ]);
    expect(skopeoInspectDigestArgv("q.io/x:1", { tlsVerify: true })).toEqual([
      "skopeo",
      "inspect",
      "--tls-verify=true",
      "--format",
      "{{.Digest}}",
      "docker://q.io/x:1",
    ]);
    expect(podmanPullArgv("oci:/d:t", { tlsVerify: true })).toEqual([
      "podman",
      "pull",
      "--quiet",
      "--tls-verify=true",
      "oci:/d:t",
    ]);
  });

  it("turns podman build's STEP lines and podman push's blob lines into progress", () => {
    expect(buildProgress("STEP 3/6: RUN set -eu;     cd /usr/lib/modules")).toEqual({
      fraction: 2 / 6,
      label: "step 3/6: RUN set -eu; cd /usr/lib/modules",
    });
    expect(buildProgress("--> Using cache 1234")).toBeUndefined();
    const track = pushProgressTracker();
    expect(track("Copying blob sha256:0123456789abcdef")?.fraction).toBe(0);
    expect(track("Copying blob 0123456789ab done")?.fraction).toBeCloseTo(0.9);
    expect(track("Writing manifest to image destination")?.fraction).toBe(0.95);
    expect(track("Storing signatures")).toBeUndefined();
  });

  it("parses podman image inspect", () => {
    const info = parseInspect(
      JSON.stringify([
        {
          Id: "f".repeat(64),
          RepoTags: ["localhost/x:1"],
          Size: 42,
          Labels: { a: "1" },
          Config: { Labels: { a: "0", b: "2" } },
          Architecture: "amd64",
          Os: "linux",
          Created: "2026-01-01T00:00:00Z",
        },
      ]),
      "x",
    );
    expect(info).toEqual({
      id: "f".repeat(64),
      names: ["localhost/x:1"],
      size: 42,
      labels: { a: "1", b: "2" },
      architecture: "amd64",
      os: "linux",
      created: "2026-01-01T00:00:00Z",
    });
    expect(() => parseInspect("[]", "x")).toThrowError(/no image/);
  });
});

describe("base root", () => {
  it("runs mmdebstrap into a tarball without /dev, with the cache hooks", () => {
    const argv = baseRootMmdebstrapArgv(BASE, "/w/base.tar");
    expect(argv.slice(0, 3)).toEqual(["mmdebstrap", "--skip=output/dev", "--mode=root"]);
    expect(argv).toContain("--variant=minbase");
    expect(argv).toContain(`--setup-hook=${join(libexecDir, "mmdebstrap-setup")}`);
    expect(argv).toContain(`--customize-hook=${join(libexecDir, "image-base-customize")}`);
    expect(argv).toContain(`--customize-hook=${join(libexecDir, "mmdebstrap-customize")}`);
    expect(argv.find((a) => a.startsWith("--include="))).toBe(
      `--include=${[...IMAGE_BASE_PACKAGES].sort().join(",")}`,
    );
    expect(argv.slice(-3)).toEqual([
      "trixie",
      "/w/base.tar",
      "deb http://deb.debian.org/debian trixie main",
    ]);
  });

  it("keys the base root by its inputs, not by its name", async () => {
    const key = await baseRootKey(BASE);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(await baseRootKey({ ...BASE, name: "localhost/other", buildArg: "B" })).toBe(key);
    expect(await baseRootKey({ ...BASE, packages: [...BASE.packages, "sudo"] })).not.toBe(key);
    expect(await baseRootKey({ ...BASE, suite: "forky" })).not.toBe(key);
    expect(baseRootImage(BASE, key)).toBe(`localhost/atomiso/base:${key.slice(0, 16)}`);
  });
});

describe("[image] config", () => {
  it("resolves the example profile's image settings", async () => {
    const s = imageSettings(await loadConfig(example));
    expect(s.containerfile).toBe(join(repo, "oci/particleos/Containerfile"));
    expect(s.context).toBe(join(repo, "oci/particleos"));
    expect(s.tag).toBe("localhost/particleos/system:0.1.0");
    expect(s.reference).toBe("127.0.0.1:5000/particleos/system:0.1.0");
    expect(s.tlsVerify).toBe(false);
    expect(s.lockFile).toBe(join(repo, "examples/particleos/atomiso.lock"));
    expect(s.buildArgs).toEqual({ VERSION: "0.1.0" });
    expect(s.base?.packages).toEqual(expect.arrayContaining([...IMAGE_BASE_PACKAGES, "sudo"]));
    expect(s.base?.packages).toEqual([...new Set(s.base?.packages)].sort());
    expect(s.base?.variant).toBe("minbase");
  });

  const minimal = (image: string) =>
    `[product]\nname = "X"\nid = "x"\nversion = "2.0"\n[iso]\nvolume_id = "X"\n${image}`;

  it("is optional, and without it the image commands say what to add", async () => {
    const file = join(work, "noimage.toml");
    await writeFile(file, minimal(""));
    const config = parseConfig(minimal(""), file);
    expect(config.image).toBeUndefined();
    expect(() => imageSettings({ config, file, dir: work })).toThrowError(AtomisoError);
    expect(() => imageSettings({ config, file, dir: work })).toThrowError(/no \[image\] section/);
  });

  it("fills defaults and derives the tag from the product", () => {
    const config = parseConfig(minimal('[image]\nreference = "q.io/x/y:1"\n'), "a.toml");
    expect(config.image).toEqual({
      containerfile: "Containerfile",
      context: ".",
      build_args: {},
      reference: "q.io/x/y:1",
      tls_verify: true,
      auto_update: false,
      max_size_mib: 8192,
      backend: "auto",
      payload: "embedded",
      compression: "gzip",
    });
    expect(imageSettings({ config, file: "/p/atomiso.toml", dir: "/p" }).tag).toBe(
      "localhost/x:2.0",
    );
  });

  it("takes zstd or gzip layer compression, nothing else", () => {
    const zstd = parseConfig(
      minimal('[image]\nreference = "q.io/x/y:1"\ncompression = "zstd"\n'),
      "a.toml",
    );
    expect(imageSettings({ config: zstd, file: "/p/atomiso.toml", dir: "/p" }).compression).toBe(
      "zstd",
    );
    expect(() =>
      parseConfig(minimal('[image]\nreference = "q.io/x/y:1"\ncompression = "xz"\n'), "a.toml"),
    ).toThrowError(/image\.compression/);
  });

  it("rejects references without a tag, with a digest, or malformed", () => {
    for (const [ref, why] of [
      ["q.io/x/y", "needs a tag"],
      [`q.io/x/y:1@sha256:${"a".repeat(64)}`, "must not contain a digest"],
      ["Q.io/X", "must be lowercase"],
    ] as const) {
      expect(() => parseConfig(minimal(`[image]\nreference = "${ref}"\n`), "a.toml")).toThrowError(
        new RegExp(`image\\.reference: .*${why}`),
      );
    }
  });

  it("checks that the Containerfile and the context exist", async () => {
    const dir = await mkdtemp(join(work, "files-"));
    const { mkdir } = await import("node:fs/promises");
    await mkdir(join(dir, "branding"));
    await writeFile(
      join(dir, "atomiso.toml"),
      minimal(
        '[image]\nreference = "q.io/x/y:1"\ncontainerfile = "nope/Containerfile"\ncontext = "nope"\n',
      ),
    );
    const err = await loadConfig(join(dir, "atomiso.toml")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.path)).toEqual([
      "image.containerfile",
      "image.context",
    ]);
  });
});

describe("image.track and the channel tag", () => {
  it("moves a tag registry to registry by digest, keeping the manifest bytes", () => {
    expect(
      skopeoCopyArgv({
        tlsVerify: false,
        source: "127.0.0.1:5000/particleos/system@sha256:abc",
        destination: "127.0.0.1:5000/particleos/system:stable",
      }),
    ).toEqual([
      "skopeo",
      "copy",
      "--quiet",
      "--preserve-digests",
      "--src-tls-verify=false",
      "--dest-tls-verify=false",
      "docker://127.0.0.1:5000/particleos/system@sha256:abc",
      "docker://127.0.0.1:5000/particleos/system:stable",
    ]);
  });

  it("--channel moves track's tag in the pushed repository, on the build host's registry name", () => {
    expect(
      channelReference(
        "127.0.0.1:5000/particleos/system:0.1.0",
        "10.0.2.100:5000/particleos/system:stable",
      ),
    ).toBe("127.0.0.1:5000/particleos/system:stable");
    expect(() =>
      channelReference(
        "127.0.0.1:5000/particleos/system:0.1.0",
        "10.0.2.100:5000/other/system:stable",
      ),
    ).toThrow(/image.track .* is not a tag of the repository image.reference pushes to/);
    expect(() => channelReference("127.0.0.1:5000/particleos/system:0.1.0", undefined)).toThrow(
      /--channel needs image.track/,
    );
  });

  it("image.track is a tagged reference without a digest, and optional", async () => {
    const base = `[product]\nname = "P"\nid = "p"\nversion = "1"\n[iso]\nvolume_id = "P"\n[image]\ncontainerfile = "C"\ncontext = "."\nreference = "r.example.org/p/s:1"\n`;
    const ok = parseConfig(`${base}track = "r.example.org/p/s:stable"\n`, "a.toml");
    expect(ok.image?.track).toBe("r.example.org/p/s:stable");
    expect(parseConfig(base, "b.toml").image?.track).toBeUndefined();
    expect(() =>
      parseConfig(`${base}track = "r.example.org/p/s@sha256:${"a".repeat(64)}"\n`, "c.toml"),
    ).toThrow(/image\.track.*must not contain a digest/s);
    expect(() => parseConfig(`${base}track = "r.example.org/p/s"\n`, "d.toml")).toThrow(
      /image\.track.*needs a tag/s,
    );
  });
});

describe("the update layer", () => {
  it("ships the tool, its helpers and the automatic update's units (programs 0755, units 0644)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "atomiso-update-layer-"));
    try {
      const containerfile = await readFile(
        await writeUpdateLayerContext(dir, "sha256:base"),
        "utf8",
      );
      expect(containerfile).toMatch(/^FROM sha256:base$/m);
      const mode = async (p: string) => (await stat(join(dir, "files", p))).mode & 0o777;
      expect(await mode("usr/lib/atomiso/update/atomiso-update")).toBe(0o755);
      expect(await mode("usr/lib/systemd/system/atomiso-update.timer")).toBe(0o644);
      const service = await readFile(
        join(dir, "files/usr/lib/systemd/system/atomiso-update.service"),
        "utf8",
      );
      // It stages; it never reboots.
      expect(service).toMatch(/^ExecStart=\/usr\/bin\/atomiso-update upgrade$/m);
      const directives = service.split("\n").filter((l) => !l.startsWith("#"));
      expect(directives.join("\n")).not.toMatch(/reboot|systemctl/i);
      expect(await readlink(join(dir, "files/usr/bin/atomiso-update"))).toBe(
        "../lib/atomiso/update/atomiso-update",
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
