// The release files' pure parts: DEP-5 licences → SPDX, SHA256SUMS merging, dpkg-query and gpg
// output parsing, the SPDX document and manifest shape, SOURCE_DATE_EPOCH from the environment,
// and the [release] table of the profile.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { podmanBuildArgv } from "../../src/image/podman.js";
import { licenceExpression, licenceOfCopyright } from "../../src/release/copyright.js";
import { epochFromEnv } from "../../src/release/epoch.js";
import { renderManifest } from "../../src/release/manifest.js";
import { renderSbom } from "../../src/release/sbom.js";
import { signingKeyOf } from "../../src/release/signing.js";
import { mergeSums } from "../../src/release/sums.js";
import { parseGetfattr, unescapePath } from "../../src/tools/attr.js";
import { dpkgQueryArgv, parseDpkgQuery } from "../../src/tools/dpkg-query.js";
import {
  gpgDetachSignArgv,
  secretFingerprints,
  validSignatureFingerprint,
} from "../../src/tools/gpg.js";

const example = fileURLToPath(new URL("../../examples/particleos/atomiso.toml", import.meta.url));
const FPR = "0123456789ABCDEF0123456789ABCDEF01234567";

describe("DEP-5 licences as SPDX expressions", () => {
  it("maps Debian short names and keeps or/and", () => {
    expect(licenceExpression("GPL-2+")).toBe("GPL-2.0-or-later");
    expect(licenceExpression("GPL-1+ or Artistic")).toBe(
      "(GPL-1.0-or-later OR LicenseRef-Debian-Artistic)",
    );
    expect(licenceExpression("LGPL-2.1+ with OpenSSL exception")).toBe(
      "LicenseRef-Debian-LGPL-2.1-or-later-with-OpenSSL-exception",
    );
    expect(licenceExpression("  ")).toBeUndefined();
  });

  it("collects every License: of a machine-readable file; none for a free-form one", () => {
    const dep5 =
      "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: Expat\n text\n\nFiles: debian/*\nLicense: GPL-2+\n\nLicense: Expat\n Permission\n";
    expect(licenceOfCopyright(dep5)).toBe("GPL-2.0-or-later AND MIT");
    const mixed = `${dep5}\nFiles: a/*\nLicense: GPL-2+ and curl\n\nFiles: b/*\nLicense: GPL-1+ or Artistic\n`;
    expect(licenceOfCopyright(mixed)).toBe(
      "(GPL-1.0-or-later OR LicenseRef-Debian-Artistic) AND GPL-2.0-or-later AND MIT AND curl",
    );
    expect(licenceOfCopyright("This package was debianized by someone.\nLicense: GPL\n")).toBe(
      undefined,
    );
  });
});

describe("SHA256SUMS merging", () => {
  const a = "a".repeat(64);
  const b = "b".repeat(64);
  const c = "c".repeat(64);
  it("replaces this build's lines, keeps the others, sorts by name", () => {
    const existing = `${a}  other.iso\n${a}  os.iso\n${a}  os.iso.log\n`;
    expect(
      mergeSums(existing, [
        { name: "os.iso", sha256: b },
        { name: "os.iso.spdx.json", sha256: c },
      ]),
    ).toBe(`${b}  os.iso\n${a}  os.iso.log\n${c}  os.iso.spdx.json\n${a}  other.iso\n`);
  });
});

describe("tool output parsing", () => {
  it("reads dpkg-query's fields, installed packages only, sorted", () => {
    expect(dpkgQueryArgv("/r/var/lib/dpkg")).toEqual([
      "dpkg-query",
      "--admindir=/r/var/lib/dpkg",
      "--show",
      "--showformat=${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\t${source:Version}\\t${db:Status-Abbrev}\\n",
    ]);
    const out =
      "zsh\t5.9-8\tamd64\tzsh\t5.9-8\tii \nlibc6\t2.41-1\tamd64\tglibc\t2.41-1\tii \ngone\t1\tall\tgone\t1\trc \n";
    expect(parseDpkgQuery(out).map((p) => [p.name, p.sourceName])).toEqual([
      ["libc6", "glibc"],
      ["zsh", "zsh"],
    ]);
  });

  it("reads gpg's fingerprints and VALIDSIG; signs with exactly the given key", () => {
    expect(
      secretFingerprints(
        `sec:u:255:22:ABCD:1:::u:::scESC:::+:::ed25519:::0:\nfpr:::::::::${FPR}:\n`,
      ),
    ).toEqual([FPR]);
    expect(
      validSignatureFingerprint(
        `[GNUPG:] NEWSIG\n[GNUPG:] VALIDSIG ${FPR} 2026-12-04 1 0 4 0 22 10 00 ${FPR}\n`,
      ),
    ).toBe(FPR);
    expect(validSignatureFingerprint("[GNUPG:] BADSIG 0123 x\n")).toBeUndefined();
    const argv = gpgDetachSignArgv(FPR, "SHA256SUMS", "SHA256SUMS.asc", { homedir: "/k" });
    expect(argv).toContain(`${FPR}!`);
    expect(argv.slice(0, 5)).toEqual(["gpg", "--batch", "--no-tty", "--homedir", "/k"]);
  });

  it("reads getfattr's dump, escaped paths included", () => {
    expect(unescapePath("/u/caf\\303\\251 x\\012y/é")).toBe("/u/café x\ny/é");
    const dump =
      '# file: /u/etc\ntrusted.overlay.origin=0x00fb\ntrusted.overlay.impure="y"\n\n# file: /u/a\\040b\ntrusted.overlay.origin=0x01\n\n';
    expect(Object.fromEntries(parseGetfattr(dump))).toEqual({
      "trusted.overlay.origin": ["/u/etc", "/u/a b"],
      "trusted.overlay.impure": ["/u/etc"],
    });
  });

  it("passes SOURCE_DATE_EPOCH to podman build as --timestamp", () => {
    const argv = podmanBuildArgv({
      containerfile: "C",
      context: ".",
      tag: "t",
      buildArgs: {},
      iidFile: "i",
      timestamp: 1700000000,
    });
    expect(argv.join(" ")).toContain("--timestamp 1700000000");
  });
});

describe("SOURCE_DATE_EPOCH", () => {
  it("takes an integer, refuses anything else with the variable named", () => {
    expect(epochFromEnv({ SOURCE_DATE_EPOCH: "1700000000" })).toBe(1700000000);
    expect(epochFromEnv({})).toBeUndefined();
    expect(epochFromEnv({ SOURCE_DATE_EPOCH: "" })).toBeUndefined();
    expect(() => epochFromEnv({ SOURCE_DATE_EPOCH: "yesterday" })).toThrow(
      /SOURCE_DATE_EPOCH="yesterday"/,
    );
    expect(() => epochFromEnv({ SOURCE_DATE_EPOCH: "-1" })).toThrow(/not a number of seconds/);
  });
});

describe("SPDX document and manifest", () => {
  const pkg = {
    name: "libstdc++6",
    version: "14.2.0-19",
    architecture: "amd64",
    sourceName: "gcc-14",
    sourceVersion: "14.2.0-19",
    licence: "GPL-3.0-or-later",
  };
  const doc = renderSbom({
    isoName: "os-1.0.iso",
    isoSha256: "f".repeat(64),
    productVersion: "1.0",
    atomisoVersion: "0.1.0",
    created: 1700000000,
    suite: "trixie",
    live: [pkg],
  }) as Record<string, unknown> & { packages: Record<string, unknown>[] };

  it("is SPDX 2.3 with a creation time from the epoch and ids SPDX allows", () => {
    expect(doc.spdxVersion).toBe("SPDX-2.3");
    expect(doc.dataLicense).toBe("CC0-1.0");
    expect((doc.creationInfo as { created: string }).created).toBe("2023-11-14T22:13:20Z");
    for (const p of doc.packages) expect(p.SPDXID).toMatch(/^SPDXRef-[A-Za-z0-9.-]+$/);
    const deb = doc.packages.find((p) => p.name === "libstdc++6") as Record<string, unknown>;
    expect(deb.licenseDeclared).toBe("GPL-3.0-or-later");
    expect(deb.sourceInfo).toContain("gcc-14 14.2.0-19");
    expect(JSON.stringify(deb.externalRefs)).toContain(
      "pkg:deb/debian/libstdc%2B%2B6@14.2.0-19?arch=amd64&distro=debian-trixie&upstream=gcc-14%4014.2.0-19",
    );
  });

  it("the manifest records the epoch and its source, tools sorted", () => {
    const m = renderManifest({
      atomisoVersion: "0.1.0",
      iso: { name: "os.iso", sha256: "0".repeat(64), size: 1 },
      installable: false,
      profile: { name: "atomiso.toml", sha256: "1".repeat(64) },
      stages: [{ id: "bootstrap", key: "k" }],
      tools: { xorriso: "1.5.4-4", dpkg: "1.21.22" },
      epoch: { epoch: 1700000000, source: "git" },
    }) as Record<string, unknown>;
    expect(m.sourceDateEpoch).toEqual({ value: 1700000000, source: "git" });
    expect(Object.keys(m.tools as object)).toEqual(["dpkg", "xorriso"]);
    expect(m.image).toBeNull();
  });
});

describe("[release] in the profile", () => {
  it("takes a full fingerprint and a GnuPG home relative to the profile", async () => {
    const text = `${await readFile(example, "utf8")}\n[release]\nsigning_key = "${FPR.toLowerCase()}"\ngnupg_home = "keys"\n`;
    const config = parseConfig(text, "atomiso.toml");
    expect(signingKeyOf({ dir: "/p", config })).toEqual({ fingerprint: FPR, homedir: "/p/keys" });
    expect(
      signingKeyOf({
        dir: "/p",
        config: parseConfig(await readFile(example, "utf8"), "atomiso.toml"),
      }),
    ).toBeUndefined();
  });

  it("refuses a short key id, naming the key", async () => {
    const text = `${await readFile(example, "utf8")}\n[release]\nsigning_key = "0x01234567"\n`;
    expect(() => parseConfig(text, "atomiso.toml")).toThrowError(
      /release\.signing_key: must be a full OpenPGP key fingerprint/,
    );
  });
});
