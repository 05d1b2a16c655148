// The SBOM's package data from real tools: two .debs built with dpkg-deb and installed into a
// tiny root with dpkg --root, read back by dpkg-query --admindir; then the same files carried in
// the layers of an OCI layout and extracted with tar the way the payload's image is read.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hashFile } from "../../src/cache/hash.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { digestOf } from "../../src/oci/digest.js";
import { OciLayout } from "../../src/oci/layout.js";
import { type ImageManifest, MediaType } from "../../src/oci/manifest.js";
import { extractImageSbomFiles } from "../../src/release/image-root.js";
import { packagesOfRoot } from "../../src/release/packages.js";
import { renderSbom } from "../../src/release/sbom.js";
import { run } from "../../src/tools/exec.js";

const DEP5 = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: sbom-test

Files: *
Copyright: 2026 Someone
License: GPL-2+
 This program is free software.

Files: lib/*
Copyright: 2026 Someone Else
License: Expat
 Permission is hereby granted.
`;

async function makeDeb(
  work: string,
  name: string,
  control: string,
  copyright: string,
): Promise<string> {
  const dir = join(work, `${name}-src`);
  await mkdir(join(dir, "DEBIAN"), { recursive: true });
  await mkdir(join(dir, "usr", "share", "doc", name), { recursive: true });
  await writeFile(join(dir, "DEBIAN", "control"), control);
  await writeFile(join(dir, "usr", "share", "doc", name, "copyright"), copyright);
  const deb = join(work, `${name}.deb`);
  await run(["dpkg-deb", "--root-owner-group", "--build", dir, deb]);
  return deb;
}

describe("SBOM packages from dpkg-query and from image layers", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-sbom-"));
  afterAll(() => safeRemove(work));
  const a = await makeDeb(
    work,
    "sbom-alpha",
    "Package: sbom-alpha\nVersion: 1.2-3\nArchitecture: all\nSource: sbom-src (1.2-1)\nMaintainer: t <t@example.invalid>\nDescription: test\n",
    DEP5,
  );
  const b = await makeDeb(
    work,
    "sbom-beta",
    "Package: sbom-beta\nVersion: 2.0\nArchitecture: amd64\nMaintainer: t <t@example.invalid>\nDescription: test\n",
    "This is not a machine-readable copyright file.\n",
  );
  const root = join(work, "root");
  await mkdir(join(root, "var", "lib", "dpkg", "info"), { recursive: true });
  await mkdir(join(root, "var", "lib", "dpkg", "updates"), { recursive: true });
  await writeFile(join(root, "var", "lib", "dpkg", "status"), "");
  await run([
    "dpkg",
    `--root=${root}`,
    "--force-script-chrootless",
    "--force-bad-path",
    "--install",
    a,
    b,
  ]);

  const expected = [
    {
      name: "sbom-alpha",
      version: "1.2-3",
      architecture: "all",
      sourceName: "sbom-src",
      sourceVersion: "1.2-1",
      licence: "GPL-2.0-or-later AND MIT",
    },
    {
      name: "sbom-beta",
      version: "2.0",
      architecture: "amd64",
      sourceName: "sbom-beta",
      sourceVersion: "2.0",
    },
  ];

  it("lists the installed packages with source and DEP-5 licence (none for a free-form file)", async () => {
    expect(await packagesOfRoot([root])).toEqual(expected);
  });

  it("reads the copyright of the top layer first, the database from the first layer that has one", async () => {
    const upper = join(work, "upper");
    await mkdir(join(upper, "usr", "share", "doc", "sbom-beta"), { recursive: true });
    await writeFile(
      join(upper, "usr", "share", "doc", "sbom-beta", "copyright"),
      "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: Apache-2.0\n",
    );
    const pkgs = await packagesOfRoot([upper, root]);
    expect(pkgs.find((p) => p.name === "sbom-beta")?.licence).toBe("Apache-2.0");
  });

  it("extracts the dpkg files of an OCI image's layers with tar and lists the same packages", async () => {
    // Layer 1 (gzip): the root's dpkg database and docs; layer 2 (plain tar): another file.
    const layer1 = join(work, "layer1.tar.gz");
    await run(["tar", "--create", "--gzip", "--file", layer1, "--directory", root, "var", "usr"]);
    const extra = join(work, "extra");
    await mkdir(join(extra, "etc"), { recursive: true });
    await writeFile(join(extra, "etc", "hostname"), "image\n");
    const layer2 = join(work, "layer2.tar");
    await run(["tar", "--create", "--file", layer2, "--directory", extra, "etc"]);
    const layout = await OciLayout.create(join(work, "layout"));
    const l1 = await layout.writeBlobFromFile(layer1, MediaType.ociLayerGzip);
    const l2 = await layout.writeBlobFromFile(layer2, "application/vnd.oci.image.layer.v1.tar");
    const config = await layout.writeJsonBlob(
      {
        architecture: "amd64",
        os: "linux",
        rootfs: { type: "layers", diff_ids: [digestOf("x"), `sha256:${await hashFile(layer2)}`] },
      },
      MediaType.ociConfig,
    );
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config,
      layers: [l1, l2],
    };
    const desc = await layout.addManifest(manifest, { refName: "1.0" });
    const dir = join(work, "image-root");
    expect(await extractImageSbomFiles(layout.dir, dir)).toBe(desc.digest);
    expect(existsSync(join(dir, "etc", "hostname"))).toBe(false);
    const pkgs = await packagesOfRoot([dir]);
    expect(pkgs).toEqual(expected);

    const sbom = renderSbom({
      isoName: "os-1.0.iso",
      isoSha256: "a".repeat(64),
      productVersion: "1.0",
      atomisoVersion: "0.1.0",
      created: 1_700_000_000,
      suite: "trixie",
      live: pkgs,
      image: { reference: "registry.example/os:1.0", digest: desc.digest, packages: pkgs },
    }) as { packages: { name: string; licenseDeclared: string }[]; relationships: unknown[] };
    expect(
      sbom.packages.filter((p) => p.name === "sbom-beta").map((p) => p.licenseDeclared),
    ).toEqual(["NOASSERTION", "NOASSERTION"]);
    // DESCRIBES, ISO→live, ISO→image, two packages in each.
    expect(sbom.relationships).toHaveLength(7);
  });
});
