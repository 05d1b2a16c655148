// The registry client against a tiny in-process registry on 127.0.0.1 that implements just
// enough of the distribution API and the Basic / Bearer auth flows.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DigestMismatchError, digestOf } from "../../../src/oci/digest.js";
import { MediaType } from "../../../src/oci/manifest.js";
import { RegistryClient, RegistryError } from "../../../src/oci/registry.js";

const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: digestOf("cfg"), size: 3 },
    layers: [],
  }),
);
const MANIFEST_DIGEST = digestOf(MANIFEST);
const BLOB = digestOf("cfg");
const TAGS = ["v1", "v2", "v3", "v4", "v5"];

interface FakeOptions {
  auth?: "none" | "basic" | "bearer";
  /** Send Docker-Content-Digest on manifest responses. */
  digestHeader?: boolean;
  /** Serve these bytes for the manifest instead of the real ones (to test verification). */
  tamper?: boolean;
}

interface Fake {
  registry: string;
  requests: Array<{
    method: string;
    url: string;
    auth: string | undefined;
    accept: string | undefined;
  }>;
  tokenRequests: URLSearchParams[];
  close(): Promise<void>;
}

const USER = "alice";
const PASS = "s3cret:x";
const BASIC = `Basic ${Buffer.from(`${USER}:${PASS}`).toString("base64")}`;

async function startFake(options: FakeOptions = {}): Promise<Fake> {
  const requests: Fake["requests"] = [];
  const tokenRequests: URLSearchParams[] = [];
  let base = "";
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", base);
    requests.push({
      method: req.method ?? "",
      url: url.pathname + url.search,
      auth: req.headers.authorization,
      accept: req.headers.accept,
    });
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(req.method === "HEAD" ? undefined : JSON.stringify(body));
    };

    if (url.pathname === "/token") {
      tokenRequests.push(url.searchParams);
      if (req.headers.authorization !== BASIC) return json(401, { details: "bad credentials" });
      return json(200, { token: `tok ${url.searchParams.get("scope")}` });
    }

    const auth = options.auth ?? "none";
    if (auth === "basic" && req.headers.authorization !== BASIC) {
      return json(
        401,
        { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] },
        { "www-authenticate": 'Basic realm="fake"' },
      );
    }
    if (auth === "bearer") {
      const m = /^repository:([^:]+):pull$/.exec(
        (req.headers.authorization ?? "").replace(/^Bearer tok /, ""),
      );
      const repoInPath = /^\/v2\/(.+)\/(manifests|blobs|tags)\//.exec(url.pathname)?.[1];
      if (!m || (repoInPath && m[1] !== repoInPath)) {
        return json(
          401,
          { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] },
          {
            "www-authenticate": `Bearer realm="${base}/token",service="fake-registry"${repoInPath ? `,scope="repository:${repoInPath}:pull"` : ""}`,
          },
        );
      }
    }

    if (url.pathname === "/v2/") return json(200, {});
    if (
      url.pathname === "/v2/ns/img/manifests/v1" ||
      url.pathname === `/v2/ns/img/manifests/${MANIFEST_DIGEST}`
    ) {
      const body = options.tamper ? Buffer.from(`${MANIFEST} `) : MANIFEST;
      const headers: Record<string, string> = {
        "content-type": MediaType.ociManifest,
        "content-length": String(body.length),
      };
      if (options.digestHeader ?? true) headers["docker-content-digest"] = MANIFEST_DIGEST;
      res.writeHead(200, headers);
      return res.end(req.method === "HEAD" ? undefined : body);
    }
    if (url.pathname.startsWith("/v2/ns/img/manifests/")) {
      return json(404, { errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] });
    }
    if (url.pathname === `/v2/ns/img/blobs/${BLOB}`) {
      res.writeHead(200, { "content-length": "3" });
      return res.end(req.method === "HEAD" ? undefined : "cfg");
    }
    if (url.pathname.startsWith("/v2/ns/img/blobs/")) return json(404, {});
    if (url.pathname === "/v2/ns/img/tags/list") {
      // Pages of two, linked like distribution does.
      const last = url.searchParams.get("last");
      const start = last ? TAGS.indexOf(last) + 1 : 0;
      const page = TAGS.slice(start, start + 2);
      const headers: Record<string, string> = {};
      if (start + 2 < TAGS.length) {
        headers.link = `</v2/ns/img/tags/list?last=${page[page.length - 1]}&n=2>; rel="next"`;
      }
      return json(200, { name: "ns/img", tags: page }, headers);
    }
    if (url.pathname === "/v2/ns/empty/tags/list")
      return json(200, { name: "ns/empty", tags: null });
    if (url.pathname === "/v2/ns/broken/tags/list")
      return json(500, { errors: [{ code: "UNKNOWN", message: "disk on fire" }] });
    return json(404, {
      errors: [{ code: "NAME_UNKNOWN", message: "repository name not known to registry" }],
    });
  };
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  return {
    registry: `127.0.0.1:${port}`,
    requests,
    tokenRequests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const fakes: Fake[] = [];
async function fake(options: FakeOptions = {}) {
  const f = await startFake(options);
  fakes.push(f);
  return f;
}
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "atomiso-registry-"));
});
afterAll(async () => {
  await Promise.all(fakes.map((f) => f.close()));
  await rm(tmp, { recursive: true, force: true });
});

/** A client that never looks at the real user's auth files. */
function client(extra: ConstructorParameters<typeof RegistryClient>[0] = {}) {
  return new RegistryClient({ tlsVerify: false, authFile: join(tmp, "none.json"), ...extra });
}

async function caught(p: Promise<unknown>): Promise<RegistryError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RegistryError) return err;
    throw err;
  }
  throw new Error("expected a RegistryError");
}

describe("RegistryClient without auth", () => {
  it("pings, resolves, checks blobs and lists tags", async () => {
    const f = await fake();
    const c = client();
    expect(await c.ping(f.registry)).toEqual({ status: 200, challenges: [] });
    expect(await c.resolveDigest(`${f.registry}/ns/img:v1`)).toBe(MANIFEST_DIGEST);
    const head = f.requests.find((r) => r.method === "HEAD" && r.url.endsWith("/manifests/v1"));
    expect(head?.accept).toContain(MediaType.ociIndex);
    expect(head?.accept).toContain(MediaType.dockerManifest);
    expect(f.requests.some((r) => r.method === "GET" && r.url.includes("/manifests/"))).toBe(false);

    expect(await c.blobExists(`${f.registry}/ns/img`, BLOB)).toBe(true);
    expect(await c.blobExists(`${f.registry}/ns/img`, digestOf("missing"))).toBe(false);
    expect(await c.listTags(`${f.registry}/ns/img`)).toEqual(TAGS);
    expect(await c.listTags(`${f.registry}/ns/empty`)).toEqual([]);
  });

  it("falls back to GET and hashing without Docker-Content-Digest", async () => {
    const f = await fake({ digestHeader: false });
    expect(await client().resolveDigest(`${f.registry}/ns/img:v1`)).toBe(MANIFEST_DIGEST);
    expect(f.requests.map((r) => r.method)).toEqual(["HEAD", "GET"]);
  });

  it("getManifest returns bytes, media type and digest", async () => {
    const f = await fake();
    const m = await client().getManifest(`${f.registry}/ns/img@${MANIFEST_DIGEST}`);
    expect(m).toEqual({
      bytes: MANIFEST,
      mediaType: MediaType.ociManifest,
      digest: MANIFEST_DIGEST,
    });
  });

  it("refuses a manifest whose bytes do not match the digest", async () => {
    const f = await fake({ tamper: true, digestHeader: false });
    await expect(client().getManifest(`${f.registry}/ns/img@${MANIFEST_DIGEST}`)).rejects.toThrow(
      DigestMismatchError,
    );
  });

  it("names registry, URL and status on HTTP errors", async () => {
    const f = await fake();
    const e404 = await caught(client().resolveDigest(`${f.registry}/ns/img:nope`));
    expect(e404.registry).toBe(f.registry);
    expect(e404.status).toBe(404);
    expect(e404.url).toBe(`http://${f.registry}/v2/ns/img/manifests/nope`);
    expect(e404.message).toContain(`registry ${f.registry}:`);
    expect(e404.message).toContain(e404.url);
    expect(e404.message).toContain("HTTP 404");
    expect(e404.hint).toContain("ns/img:nope");

    const e500 = await caught(client().listTags(`${f.registry}/ns/broken`));
    expect(e500.status).toBe(500);
    expect(e500.message).toMatch(/HTTP 500 .*UNKNOWN: disk on fire/);
  });

  it("reports a registry that is not listening", async () => {
    const f = await startFake();
    await f.close();
    const err = await caught(client().ping(f.registry));
    expect(err.status).toBeUndefined();
    expect(err.message).toContain(`http://${f.registry}/v2/`);
    expect(err.message).toContain("ECONNREFUSED");
  });

  it("uses https unless the registry is marked insecure", () => {
    const c = new RegistryClient({ insecureRegistries: ["localhost:5000"] });
    expect(c.baseUrl("quay.io")).toBe("https://quay.io");
    expect(c.baseUrl("docker.io")).toBe("https://registry-1.docker.io");
    expect(c.baseUrl("localhost:5000")).toBe("http://localhost:5000");
    expect(new RegistryClient({ tlsVerify: false }).baseUrl("quay.io")).toBe("http://quay.io");
  });
});

describe("RegistryClient with Basic auth", () => {
  it("answers the challenge with credentials and reuses them", async () => {
    const f = await fake({ auth: "basic" });
    const c = client({ credentials: { username: USER, password: PASS } });
    expect(await c.ping(f.registry)).toEqual({
      status: 401,
      challenges: [{ scheme: "basic", params: { realm: "fake" } }],
    });
    expect(await c.resolveDigest(`${f.registry}/ns/img:v1`)).toBe(MANIFEST_DIGEST);
    expect(await c.listTags(`${f.registry}/ns/img`)).toEqual(TAGS);
    // One 401 in total after the ping: later requests send the cached header straight away.
    expect(f.requests.filter((r) => r.auth === undefined)).toHaveLength(2);
    expect(f.requests.filter((r) => r.auth === BASIC).length).toBeGreaterThan(2);
  });

  it("reads credentials from an auth.json", async () => {
    const f = await fake({ auth: "basic" });
    const authFile = join(tmp, "auth.json");
    await writeFile(
      authFile,
      JSON.stringify({
        auths: { [f.registry]: { auth: Buffer.from(`${USER}:${PASS}`).toString("base64") } },
      }),
    );
    const c = new RegistryClient({ tlsVerify: false, authFile });
    expect(await c.blobExists(`${f.registry}/ns/img`, BLOB)).toBe(true);
  });

  it("fails with 401 and the registry name on wrong or missing credentials", async () => {
    const f = await fake({ auth: "basic" });
    const wrong = await caught(
      client({ credentials: { username: USER, password: "nope" } }).resolveDigest(
        `${f.registry}/ns/img:v1`,
      ),
    );
    expect(wrong.status).toBe(401);
    expect(wrong.registry).toBe(f.registry);
    expect(wrong.message).toMatch(
      new RegExp(`^registry ${f.registry}: HEAD http://\\S+ returned HTTP 401`),
    );
    expect(wrong.message).toContain("rejected");

    const none = await caught(client().listTags(`${f.registry}/ns/img`));
    expect(none.status).toBe(401);
    expect(none.message).toContain("no credentials found");
  });
});

describe("RegistryClient with Bearer tokens", () => {
  it("gets a token for the repository scope from the realm and caches it", async () => {
    const f = await fake({ auth: "bearer" });
    const c = client({ credentials: { username: USER, password: PASS } });
    expect(await c.resolveDigest(`${f.registry}/ns/img:v1`)).toBe(MANIFEST_DIGEST);
    expect(await c.blobExists(`${f.registry}/ns/img`, BLOB)).toBe(true);
    expect(await c.listTags(`${f.registry}/ns/img`)).toEqual(TAGS);
    expect(f.tokenRequests).toHaveLength(1);
    expect(f.tokenRequests[0]?.get("service")).toBe("fake-registry");
    expect(f.tokenRequests[0]?.get("scope")).toBe("repository:ns/img:pull");
    expect(f.requests.filter((r) => r.auth === "Bearer tok repository:ns/img:pull").length).toBe(5);
  });

  it("reports a token server that rejects the credentials", async () => {
    const f = await fake({ auth: "bearer" });
    const err = await caught(
      client({ credentials: { username: USER, password: "bad" } }).resolveDigest(
        `${f.registry}/ns/img:v1`,
      ),
    );
    expect(err.status).toBe(401);
    expect(err.registry).toBe(f.registry);
    expect(err.url).toContain("/token?");
    expect(err.hint).toContain("rejected the credentials for alice");
  });
});
