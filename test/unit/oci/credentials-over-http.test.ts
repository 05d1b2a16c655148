// Credentials never travel over plain http to another machine: image.tls_verify = false is for
// a registry without TLS, and auth.json's Basic credentials would be readable on the path.
// Over https, or to a registry on this machine (127.0.0.0/8, ::1), they still go.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AtomisoError } from "../../../src/errors.js";
import { mayCarryCredentials, refuseCredentialsOverHttp } from "../../../src/oci/auth.js";
import { RegistryClient } from "../../../src/oci/registry.js";

const DIGEST = `sha256:${"a".repeat(64)}`;
const creds = { username: "ada", password: "s3cret" };

/** A registry that wants Basic auth, recording every request's Authorization header. */
function basicRegistry(seen: (string | null)[]): typeof fetch {
  return async (_url, init) => {
    const auth = new Headers(init?.headers).get("authorization");
    seen.push(auth);
    if (!auth) {
      return new Response("", { status: 401, headers: { "www-authenticate": 'Basic realm="r"' } });
    }
    return new Response("", { status: 200, headers: { "docker-content-digest": DIGEST } });
  };
}

/** A registry that sends clients to a token realm at `realm`. */
function bearerRegistry(realm: string, seen: string[]): typeof fetch {
  return async (url, init) => {
    const auth = new Headers(init?.headers).get("authorization");
    seen.push(`${String(url)} ${auth ?? "-"}`);
    if (String(url).startsWith(realm)) return Response.json({ token: "t" });
    if (auth !== "Bearer t") {
      return new Response("", {
        status: 401,
        headers: { "www-authenticate": `Bearer realm="${realm}",service="r"` },
      });
    }
    return new Response("", { status: 200, headers: { "docker-content-digest": DIGEST } });
  };
}

describe("credentials over plain http", () => {
  let dir: string;
  let authFile: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "atomiso-creds-"));
    authFile = join(dir, "auth.json");
    const auth = Buffer.from("ada:s3cret").toString("base64");
    await writeFile(
      authFile,
      JSON.stringify({ auths: { "registry.example.org": { auth }, "127.0.0.1:5000": { auth } } }),
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("may go over https or to this machine only", () => {
    expect(mayCarryCredentials("https://registry.example.org/v2/")).toBe(true);
    expect(mayCarryCredentials("http://127.0.0.1:5000/v2/")).toBe(true);
    expect(mayCarryCredentials("http://127.8.9.10/v2/")).toBe(true);
    expect(mayCarryCredentials("http://localhost:5000/v2/")).toBe(true);
    expect(mayCarryCredentials("http://[::1]:5000/v2/")).toBe(true);
    expect(mayCarryCredentials("http://registry.example.org/v2/")).toBe(false);
    expect(mayCarryCredentials("http://10.0.2.100:5000/v2/")).toBe(false);
    expect(mayCarryCredentials("http://127.0.0.1.evil.example/v2/")).toBe(false);
  });

  it("the registry client refuses Basic auth over http and sends nothing", async () => {
    const seen: (string | null)[] = [];
    const c = new RegistryClient({
      tlsVerify: false,
      credentials: creds,
      fetch: basicRegistry(seen),
    });
    const err = await c
      .resolveDigest("registry.example.org/os/system:1")
      .catch((e: unknown) => e as AtomisoError);
    expect(err).toBeInstanceOf(AtomisoError);
    expect((err as AtomisoError).message).toMatch(/refusing to send the credentials .* plain http/);
    expect((err as AtomisoError).message).toContain("image.tls_verify = false");
    expect(seen).toEqual([null]); // the anonymous try only
    // Over https the same credentials go.
    const tls = new RegistryClient({ credentials: creds, fetch: basicRegistry([]) });
    await expect(tls.resolveDigest("registry.example.org/os/system:1")).resolves.toBe(DIGEST);
  });

  it("the registry client refuses a token realm over http with credentials", async () => {
    const seen: string[] = [];
    const c = new RegistryClient({
      credentials: creds,
      fetch: bearerRegistry("http://auth.example.org/token", seen),
    });
    await expect(c.resolveDigest("registry.example.org/os/system:1")).rejects.toThrow(
      /refusing to send the credentials/,
    );
    expect(seen.some((s) => s.startsWith("http://auth.example.org"))).toBe(false);
  });

  it("podman and skopeo are stopped before they would log in over http", async () => {
    const refuse = (registry: string, tlsVerify: boolean) =>
      refuseCredentialsOverHttp(registry, "os/system", { tlsVerify, authFile });
    await expect(refuse("registry.example.org", false)).rejects.toThrow(/plain http/);
    await expect(refuse("registry.example.org", true)).resolves.toBeUndefined();
    await expect(refuse("127.0.0.1:5000", false)).resolves.toBeUndefined();
    // No credentials for it: nothing to leak.
    await expect(refuse("other.example.org", false)).resolves.toBeUndefined();
  });
});
