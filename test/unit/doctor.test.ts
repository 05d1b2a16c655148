import { describe, expect, it } from "vitest";
import { checkNode, checkRoot, podmanFindings } from "../../src/doctor/checks.js";

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
