// The live root's package selection: the container tools follow the backend and payload mode
// that run them (src/stages/bootstrap.ts installerPackages).
import { describe, expect, it } from "vitest";
import { BASE_PACKAGES, installerPackages, livePackages } from "../../src/stages/bootstrap.js";

describe("live root packages", () => {
  it("carries podman only for bootc and skopeo only where something pulls with it", () => {
    expect(installerPackages({ backend: "ostree", payload: "embedded" })).toEqual([]);
    expect(installerPackages({ backend: "ostree", payload: "online" })).toEqual(["skopeo"]);
    expect(installerPackages({ backend: "bootc", payload: "embedded" })).toEqual([
      "podman",
      "skopeo",
    ]);
    expect(installerPackages({ backend: "bootc", payload: "online" })).toEqual([
      "podman",
      "skopeo",
    ]);
    expect(installerPackages({ backend: "none", payload: "none" })).toEqual([]);
    expect(BASE_PACKAGES).not.toContain("podman");
    expect(BASE_PACKAGES).not.toContain("skopeo");
  });

  it("merges the profile's packages, sorted and once each", () => {
    const packages = livePackages({ backend: "bootc", payload: "embedded" }, ["vim", "podman"]);
    expect(packages).toEqual([...new Set(packages)].sort());
    expect(packages).toEqual(expect.arrayContaining(["vim", "podman", "skopeo", "ostree"]));
  });
});
