import { describe, expect, it } from "vitest";
import { AtomisoError } from "../../../src/errors.js";
import {
  familiarName,
  familiarReference,
  formatReference,
  isValidReference,
  manifestSelector,
  parseReference,
} from "../../../src/oci/reference.js";

const D = `sha256:${"a".repeat(64)}`;

describe("parseReference: normalisation", () => {
  const cases: Array<[string, string]> = [
    ["debian", "docker.io/library/debian:latest"],
    ["debian:trixie", "docker.io/library/debian:trixie"],
    [`debian@${D}`, `docker.io/library/debian@${D}`],
    [`debian:trixie@${D}`, `docker.io/library/debian:trixie@${D}`],
    ["foo/bar", "docker.io/foo/bar:latest"],
    ["foo/bar/baz", "docker.io/foo/bar/baz:latest"],
    ["docker.io/debian", "docker.io/library/debian:latest"],
    ["docker.io/library/debian:13", "docker.io/library/debian:13"],
    ["index.docker.io/debian", "docker.io/library/debian:latest"],
    ["index.docker.io/foo/bar", "docker.io/foo/bar:latest"],
    ["localhost/x", "localhost/x:latest"],
    ["localhost:5000/x", "localhost:5000/x:latest"],
    ["localhost:5000/x:v1", "localhost:5000/x:v1"],
    ["127.0.0.1:5000/a/b:c", "127.0.0.1:5000/a/b:c"],
    ["quay.io/fedora/fedora-bootc:42", "quay.io/fedora/fedora-bootc:42"],
    ["ghcr.io/ublue-os/bazzite:stable", "ghcr.io/ublue-os/bazzite:stable"],
    ["registry.example.com:443/a/b/c:v1.2-x_y", "registry.example.com:443/a/b/c:v1.2-x_y"],
    ["Example.COM/foo", "Example.COM/foo:latest"],
    ["myhost:5000/foo", "myhost:5000/foo:latest"],
    ["example.com", "docker.io/library/example.com:latest"],
    ["localhost", "docker.io/library/localhost:latest"],
    ["localhost:5000", "docker.io/library/localhost:5000"],
    ["[::1]:5000/foo", "[::1]:5000/foo:latest"],
    ["a-b_c__d---e/f.g", "docker.io/a-b_c__d---e/f.g:latest"],
    ["x/y:_tag", "docker.io/x/y:_tag"],
    [`x:${"t".repeat(128)}`, `docker.io/library/x:${"t".repeat(128)}`],
  ];
  for (const [input, want] of cases) {
    it(`${input} -> ${want.length > 80 ? `${want.slice(0, 80)}…` : want}`, () => {
      expect(formatReference(parseReference(input))).toBe(want);
    });
  }

  it("splits into typed parts", () => {
    expect(parseReference(`localhost:5000/ns/img:1@${D}`)).toEqual({
      registry: "localhost:5000",
      repository: "ns/img",
      tag: "1",
      digest: D,
    });
  });

  it("adds no tag when asked not to, or when a digest is present", () => {
    expect(parseReference("debian", { defaultTag: false }).tag).toBeUndefined();
    expect(parseReference(`debian@${D}`).tag).toBeUndefined();
  });

  it("accepts sha512 digests", () => {
    const d512 = `sha512:${"0".repeat(128)}`;
    expect(parseReference(`a/b@${d512}`).digest).toBe(d512);
  });
});

describe("parseReference: invalid", () => {
  const cases: Array<[string, RegExp]> = [
    ["", /empty/],
    [" debian", /whitespace/],
    ["debian:", /tag after ':' is empty/],
    ["debian:.x", /tag ".x"/],
    ["debian:-x", /tag "-x"/],
    [`debian:${"t".repeat(129)}`, /tag/],
    ["debian:a+b", /tag "a\+b"/],
    ["Debian", /lowercase/],
    ["foo/Bar", /lowercase/],
    ["-foo", /not a valid repository path/],
    ["foo-", /not a valid repository path/],
    ["foo..bar", /not a valid repository path/],
    ["foo___bar", /not a valid repository path/],
    ["foo/", /not a valid repository path/],
    ["/foo", /not a valid repository path/],
    ["foo//bar", /not a valid repository path/],
    ["foo bar", /not a valid repository path/],
    ["quay.io/", /not a valid repository path/],
    ["-bad.com/foo", /not a valid registry host/],
    ["bad-.com/foo", /not a valid registry host/],
    ["host:port/foo", /not a valid registry host/],
    ["a_b.com/foo", /not a valid registry host/],
    // A dot makes the first component a registry, even with path-like characters in it.
    ["a-b.c_d/e", /not a valid registry host/],
    ["debian@", /invalid digest/],
    ["debian@sha256:abc", /64 lowercase hex/],
    [`debian@sha256:${"A".repeat(64)}`, /64 lowercase hex/],
    [`debian@md5:${"a".repeat(32)}`, /sha256 or sha512/],
    [`debian@${D}@${D}`, /invalid digest/],
    [`@${D}`, /repository name is empty/],
    [":tag", /repository name is empty/],
    ["a".repeat(64), /image ID/],
    [`quay.io/${"a".repeat(250)}`, /255/],
  ];
  for (const [input, why] of cases) {
    it(`rejects ${JSON.stringify(input.length > 60 ? `${input.slice(0, 60)}…` : input)}`, () => {
      let caught: unknown;
      try {
        parseReference(input);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(AtomisoError);
      const err = caught as AtomisoError;
      expect(err.code).toBe("oci-invalid-reference");
      expect(err.message).toMatch(why);
      expect(err.message).toContain(JSON.stringify(input));
      expect(err.hint).toBeTruthy();
      expect(isValidReference(input)).toBe(false);
    });
  }
});

describe("familiar form", () => {
  const cases: Array<[string, string, string]> = [
    ["debian", "debian", "debian:latest"],
    ["docker.io/library/debian:13", "debian", "debian:13"],
    ["foo/bar", "foo/bar", "foo/bar:latest"],
    ["docker.io/library/a/b", "library/a/b", "library/a/b:latest"],
    [
      "quay.io/fedora/fedora-bootc:42",
      "quay.io/fedora/fedora-bootc",
      "quay.io/fedora/fedora-bootc:42",
    ],
    ["localhost:5000/x", "localhost:5000/x", "localhost:5000/x:latest"],
    [`debian@${D}`, "debian", `debian@${D}`],
  ];
  for (const [input, name, full] of cases) {
    it(`${input} -> ${full}`, () => {
      const ref = parseReference(input);
      expect(familiarName(ref)).toBe(name);
      expect(familiarReference(ref)).toBe(full);
      // The familiar form parses back to the same reference.
      expect(parseReference(familiarReference(ref))).toEqual(ref);
    });
  }

  it("manifestSelector prefers the digest", () => {
    expect(manifestSelector(parseReference(`x:1@${D}`))).toBe(D);
    expect(manifestSelector(parseReference("x:1"))).toBe("1");
  });
});
