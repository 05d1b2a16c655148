import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  authFilePaths,
  findCredentials,
  normaliseAuthKey,
  parseWwwAuthenticate,
} from "../../../src/oci/auth.js";

describe("parseWwwAuthenticate", () => {
  it("parses a Docker Hub style Bearer challenge", () => {
    expect(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull"',
      ),
    ).toEqual([
      {
        scheme: "bearer",
        params: {
          realm: "https://auth.docker.io/token",
          service: "registry.docker.io",
          scope: "repository:library/debian:pull",
        },
      },
    ]);
  });

  it("parses Basic with a quoted realm", () => {
    expect(parseWwwAuthenticate('Basic realm="Registry Realm"')).toEqual([
      { scheme: "basic", params: { realm: "Registry Realm" } },
    ]);
  });

  it("handles case, spaces, unquoted values, escapes and commas inside quotes", () => {
    expect(
      parseWwwAuthenticate(
        'BEARER  Realm = "https://a/t?x=1,y=2" , Service=reg , scope="repository:a:pull,push", error="say \\"hi\\""',
      ),
    ).toEqual([
      {
        scheme: "bearer",
        params: {
          realm: "https://a/t?x=1,y=2",
          service: "reg",
          scope: "repository:a:pull,push",
          error: 'say "hi"',
        },
      },
    ]);
  });

  it("splits several challenges in one header (as fetch joins repeated headers)", () => {
    expect(
      parseWwwAuthenticate(
        'Basic realm="r1", Bearer realm="https://t/token",service="s", Negotiate',
      ),
    ).toEqual([
      { scheme: "basic", params: { realm: "r1" } },
      { scheme: "bearer", params: { realm: "https://t/token", service: "s" } },
      { scheme: "negotiate", params: {} },
    ]);
  });

  it("parses token68 and bare schemes", () => {
    expect(parseWwwAuthenticate("Negotiate abc+/d==, Basic")).toEqual([
      { scheme: "negotiate", params: {}, token68: "abc+/d==" },
      { scheme: "basic", params: {} },
    ]);
  });

  it("tolerates empty and malformed input", () => {
    expect(parseWwwAuthenticate("")).toEqual([]);
    expect(parseWwwAuthenticate(" , ,")).toEqual([]);
    expect(parseWwwAuthenticate('Basic realm="unterminated')).toEqual([
      { scheme: "basic", params: { realm: "unterminated" } },
    ]);
    expect(parseWwwAuthenticate('"weird" Basic')).toEqual([
      { scheme: "weird", params: {} },
      { scheme: "basic", params: {} },
    ]);
  });
});

describe("auth files", () => {
  let root: string;
  const b64 = (s: string) => Buffer.from(s).toString("base64");

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "atomiso-auth-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("lists the standard paths in containers/image order", () => {
    expect(
      authFilePaths({ env: { XDG_RUNTIME_DIR: "/run/user/1000" }, homeDir: "/home/u" }),
    ).toEqual([
      "/run/user/1000/containers/auth.json",
      "/home/u/.config/containers/auth.json",
      "/home/u/.docker/config.json",
    ]);
    expect(
      authFilePaths({
        env: { XDG_RUNTIME_DIR: "/r", XDG_CONFIG_HOME: "/cfg", DOCKER_CONFIG: "/dc" },
        homeDir: "/h",
      }),
    ).toEqual(["/r/containers/auth.json", "/cfg/containers/auth.json", "/dc/config.json"]);
    expect(authFilePaths({ env: { REGISTRY_AUTH_FILE: "/x.json" }, homeDir: "/h" })).toEqual([
      "/x.json",
    ]);
    expect(authFilePaths({ authFile: "/y.json", env: { REGISTRY_AUTH_FILE: "/x.json" } })).toEqual([
      "/y.json",
    ]);
  });

  it("normalises docker-style keys", () => {
    expect(normaliseAuthKey("https://index.docker.io/v1/")).toBe("docker.io");
    expect(normaliseAuthKey("http://myreg:5000/v2/")).toBe("myreg:5000");
    expect(normaliseAuthKey("quay.io/org")).toBe("quay.io/org");
  });

  it("finds credentials, most specific key first, in the first file that has them", async () => {
    const home = join(root, "home");
    const runtime = join(root, "run");
    await mkdir(join(runtime, "containers"), { recursive: true });
    await mkdir(join(home, ".config", "containers"), { recursive: true });
    await mkdir(join(home, ".docker"), { recursive: true });
    await writeFile(
      join(runtime, "containers", "auth.json"),
      JSON.stringify({ auths: { "quay.io/org": { auth: b64("orguser:orgpass") } } }),
    );
    await writeFile(
      join(home, ".config", "containers", "auth.json"),
      JSON.stringify({
        auths: {
          "quay.io": { auth: b64("quser:qp:with:colons") },
          "broken.example": { auth: b64("no-colon") },
        },
      }),
    );
    await writeFile(
      join(home, ".docker", "config.json"),
      JSON.stringify({ auths: { "https://index.docker.io/v1/": { auth: b64("hub:hubpass") } } }),
    );
    const opts = { env: { XDG_RUNTIME_DIR: runtime }, homeDir: home };

    expect(await findCredentials("quay.io", "org/img", opts)).toEqual({
      username: "orguser",
      password: "orgpass",
    });
    expect(await findCredentials("quay.io", "other/img", opts)).toEqual({
      username: "quser",
      password: "qp:with:colons",
    });
    expect(await findCredentials("docker.io", "library/debian", opts)).toEqual({
      username: "hub",
      password: "hubpass",
    });
    expect(await findCredentials("ghcr.io", "x/y", opts)).toBeUndefined();
    await expect(findCredentials("broken.example", undefined, opts)).rejects.toThrow(
      /not base64 of "user:password"/,
    );
    // An explicit file replaces the search.
    expect(
      await findCredentials("docker.io", "library/debian", {
        ...opts,
        authFile: join(home, ".config", "containers", "auth.json"),
      }),
    ).toBeUndefined();
  });

  it("reports an auth file that is not JSON", async () => {
    const path = join(root, "bad.json");
    await writeFile(path, "{nope");
    await expect(findCredentials("x.io", undefined, { authFile: path })).rejects.toMatchObject({
      code: "registry-error",
      message: expect.stringContaining(path),
    });
  });
});
