import { describe, expect, it } from "vitest";
import {
  BUILDER_CONTAINER_FIX,
  checkHostSystem,
  checkNode,
  checkRoot,
  parseOsRelease,
  podmanFindings,
} from "../../src/doctor/checks.js";

describe("doctor", () => {
  it("flags crun on hybrid cgroups and says how to switch to runc", () => {
    const [runtime, ulimits] = podmanFindings({ runtime: "crun", cgroupVersion: "v1" }, "");
    expect(runtime).toMatchObject({ level: "fail", check: "podman runtime" });
    expect(runtime?.fix).toContain('runtime = "runc"');
    expect(ulimits).toMatchObject({ level: "warn" });
    expect(ulimits?.fix).toContain("nproc=20000:20000");
  });

  it("accepts runc with default ulimits set", () => {
    const conf =
      '[engine]\nruntime = "runc"\n[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]\n';
    expect(
      podmanFindings({ runtime: "runc", cgroupVersion: "v1" }, conf).map((f) => f.level),
    ).toEqual(["ok", "ok"]);
  });

  it("checks Node and root", () => {
    expect(checkNode("20.18.0").level).toBe("fail");
    expect(checkNode("20.19.0").level).toBe("ok");
    expect(checkNode("22.1.0").level).toBe("ok");
    expect(checkRoot(1000)).toMatchObject({ level: "fail", fix: "run atomiso with sudo" });
    expect(checkRoot(0).level).toBe("ok");
  });
});

describe("doctor on other hosts", () => {
  it("accepts Debian and its derivatives", () => {
    expect(
      checkHostSystem('ID=debian\nPRETTY_NAME="Debian GNU/Linux 13 (trixie)"\n'),
    ).toMatchObject({
      level: "ok",
      detail: "Debian GNU/Linux 13 (trixie) (Debian packages)",
    });
    expect(checkHostSystem("ID=ubuntu\nID_LIKE=debian\nNAME=Ubuntu\n").level).toBe("ok");
  });

  it("sends other hosts to the builder container", () => {
    const fedora = checkHostSystem(
      'NAME="Fedora Linux"\nID=fedora\nPRETTY_NAME="Fedora Linux 41"\n',
    );
    expect(fedora).toMatchObject({ level: "warn", fix: BUILDER_CONTAINER_FIX });
    expect(fedora.detail).toContain("Fedora Linux 41 is not Debian-based");
    expect(checkHostSystem("ID=arch\nID_LIKE=\n").fix).toContain("oci/builder/Containerfile");
    expect(checkHostSystem(undefined).detail).toContain("no /etc/os-release");
  });

  it("parses os-release quoting", () => {
    expect(parseOsRelease("A=\"x y\"\nB='z'\nC=plain\n# comment\n")).toEqual({
      A: "x y",
      B: "z",
      C: "plain",
    });
  });
});
