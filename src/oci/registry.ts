// A small client for the OCI distribution API over Node's global fetch: enough to ask a registry
// what a tag points to, whether a blob is there and which tags exist, without pulling an image.
// It speaks the usual auth dance: request, 401 with WWW-Authenticate, then either Basic
// credentials or a Bearer token from the challenge's realm, then the request again.
//
// Plain http is used only for registries the caller marks insecure: global fetch cannot switch
// certificate checks off per request, so "insecure" means http, never https-without-checks.
import { AtomisoError } from "../errors.js";
import {
  type AuthChallenge,
  type AuthFileOptions,
  type Credentials,
  credentialsOverHttpError,
  findCredentials,
  mayCarryCredentials,
  parseWwwAuthenticate,
} from "./auth.js";
import { DigestMismatchError, digestOf, isDigest, parseDigest } from "./digest.js";
import { MANIFEST_MEDIA_TYPES } from "./manifest.js";
import {
  DOCKER_HUB,
  formatReference,
  type ImageReference,
  manifestSelector,
  parseReference,
} from "./reference.js";

export interface RegistryClientOptions extends AuthFileOptions {
  /** false: talk plain http to every registry (for local test registries). Default true. */
  tlsVerify?: boolean;
  /** Registries (host[:port]) to reach over plain http even when tlsVerify is true. */
  insecureRegistries?: string[];
  /** Use these for every registry instead of looking in auth files (like skopeo --creds). */
  credentials?: Credentials;
  /** Per-request timeout. */
  timeoutMs?: number;
  userAgent?: string;
  /** For tests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

export class RegistryError extends AtomisoError {
  readonly registry: string;
  readonly url: string;
  readonly status: number | undefined;

  constructor(
    registry: string,
    url: string,
    status: number | undefined,
    message: string,
    hint?: string,
  ) {
    super("registry-error", `registry ${registry}: ${message}`, hint);
    this.registry = registry;
    this.url = url;
    this.status = status;
  }
}

export interface PingResult {
  /** 200: open (or our cached auth worked); 401: the registry wants authentication. */
  status: number;
  challenges: AuthChallenge[];
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

interface RequestOptions {
  method?: "GET" | "HEAD";
  accept?: readonly string[];
  /** Token scope, e.g. "repository:fedora/fedora-bootc:pull". */
  scope?: string;
}

type Ref = ImageReference | string;

export class RegistryClient {
  private readonly options: RegistryClientOptions;
  private readonly fetchFn: typeof fetch;
  /** Authorization headers by "registry scope"; Basic is stored under scope "*". */
  private readonly authCache = new Map<string, string>();

  constructor(options: RegistryClientOptions = {}) {
    this.options = options;
    this.fetchFn = options.fetch ?? globalThis.fetch;
  }

  /** Base URL of a registry's API ("docker.io" is served from registry-1.docker.io). */
  baseUrl(registry: string): string {
    const insecure =
      this.options.tlsVerify === false ||
      (this.options.insecureRegistries ?? []).includes(registry);
    const host = registry === DOCKER_HUB ? "registry-1.docker.io" : registry;
    return `${insecure ? "http" : "https"}://${host}`;
  }

  /** GET /v2/ without credentials: proves the registry speaks the v2 API. */
  async ping(registry: string): Promise<PingResult> {
    const url = `${this.baseUrl(registry)}/v2/`;
    const res = await this.send(registry, url, { method: "GET" }, undefined);
    await res.body?.cancel();
    if (res.status !== 200 && res.status !== 401) {
      throw this.httpError(registry, url, "GET", res, "");
    }
    return {
      status: res.status,
      challenges: parseWwwAuthenticate(res.headers.get("www-authenticate") ?? ""),
    };
  }

  /**
   * The digest a tag points to right now (for a multi-arch image: the index digest, as skopeo
   * inspect reports it). HEAD with Docker-Content-Digest when the registry sends it, else the
   * manifest is fetched and hashed.
   */
  async resolveDigest(reference: Ref): Promise<string> {
    const ref = toRef(reference);
    const url = this.manifestUrl(ref);
    const res = await this.request(ref.registry, url, {
      method: "HEAD",
      accept: MANIFEST_MEDIA_TYPES,
      scope: pullScope(ref),
    });
    if (!res.ok) throw this.httpError(ref.registry, url, "HEAD", res, "", manifestHint(ref, res));
    const header = res.headers.get("docker-content-digest") ?? "";
    if (ref.digest) return ref.digest;
    if (isDigest(header)) return header;
    return (await this.getManifest(ref)).digest;
  }

  /** Fetches a manifest or index and checks it against the digest we asked for or were told. */
  async getManifest(reference: Ref): Promise<FetchedManifest> {
    const ref = toRef(reference);
    const url = this.manifestUrl(ref);
    const res = await this.request(ref.registry, url, {
      accept: MANIFEST_MEDIA_TYPES,
      scope: pullScope(ref),
    });
    if (!res.ok) {
      throw this.httpError(ref.registry, url, "GET", res, await res.text(), manifestHint(ref, res));
    }
    const bytes = Buffer.from(await res.arrayBuffer());
    const header = res.headers.get("docker-content-digest") ?? "";
    const claimed = ref.digest ?? (isDigest(header) ? header : undefined);
    const digest = digestOf(bytes, claimed ? parseDigest(claimed).algorithm : "sha256");
    if (claimed && claimed !== digest) throw new DigestMismatchError(url, claimed, digest);
    const mediaType = (res.headers.get("content-type") ?? "").split(";")[0]?.trim() ?? "";
    return { bytes, mediaType, digest };
  }

  /** HEAD on the blob: true when the repository has it. */
  async blobExists(reference: Ref, digest: string): Promise<boolean> {
    const ref = toRef(reference);
    parseDigest(digest);
    const url = `${this.baseUrl(ref.registry)}/v2/${ref.repository}/blobs/${digest}`;
    const res = await this.request(ref.registry, url, { method: "HEAD", scope: pullScope(ref) });
    if (res.ok) return true;
    if (res.status === 404) return false;
    throw this.httpError(ref.registry, url, "HEAD", res, "");
  }

  /** All tags of the repository, following Link: rel="next" pagination. */
  async listTags(reference: Ref): Promise<string[]> {
    const ref = toRef(reference);
    const tags: string[] = [];
    let url: string | undefined = `${this.baseUrl(ref.registry)}/v2/${ref.repository}/tags/list`;
    for (let page = 0; url && page < 1000; page++) {
      const res = await this.request(ref.registry, url, { scope: pullScope(ref) });
      const text = await res.text();
      if (!res.ok) throw this.httpError(ref.registry, url, "GET", res, text);
      let body: { tags?: string[] | null };
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        throw new RegistryError(ref.registry, url, res.status, `GET ${url} returned invalid JSON`);
      }
      tags.push(...(body.tags ?? []));
      url = nextLink(res.headers.get("link"), url);
    }
    return tags;
  }

  // ---- the auth flow ----

  /** Sends with cached auth; on 401 answers the challenge once and retries. */
  private async request(registry: string, url: string, opts: RequestOptions): Promise<Response> {
    const scope = opts.scope ?? "";
    const cached =
      this.authCache.get(`${registry} ${scope}`) ?? this.authCache.get(`${registry} *`);
    const first = await this.send(registry, url, opts, cached);
    if (first.status !== 401) return first;
    await first.body?.cancel();

    const challenges = parseWwwAuthenticate(first.headers.get("www-authenticate") ?? "");
    const creds = await this.credentialsFor(registry, scope);
    const bearer = challenges.find((c) => c.scheme === "bearer");
    const basic = challenges.find((c) => c.scheme === "basic");
    let header: string;
    if (bearer) {
      header = `Bearer ${await this.fetchToken(registry, url, bearer, scope, creds)}`;
      this.authCache.set(`${registry} ${scope}`, header);
    } else if (basic && creds) {
      if (!mayCarryCredentials(url)) throw credentialsOverHttpError(registry);
      header = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
      this.authCache.set(`${registry} *`, header);
    } else {
      const method = opts.method ?? "GET";
      throw new RegistryError(
        registry,
        url,
        401,
        `${method} ${url} returned HTTP 401 (authentication required${basic ? ", no credentials found" : challenges.length ? `, unsupported scheme ${challenges.map((c) => c.scheme).join("/")}` : ""})`,
        `log in with \`podman login ${registry}\` or pass credentials`,
      );
    }
    const second = await this.send(registry, url, opts, header);
    if (second.status === 401) {
      await second.body?.cancel();
      this.authCache.delete(`${registry} ${scope}`);
      this.authCache.delete(`${registry} *`);
      throw new RegistryError(
        registry,
        url,
        401,
        `${opts.method ?? "GET"} ${url} returned HTTP 401 (credentials for ${creds?.username ?? "anonymous"} were rejected)`,
        `check the credentials, e.g. \`podman login ${registry}\``,
      );
    }
    return second;
  }

  /** Bearer token from the realm: GET realm?service=…&scope=…, with Basic credentials if any. */
  private async fetchToken(
    registry: string,
    url: string,
    challenge: AuthChallenge,
    scope: string,
    creds: Credentials | undefined,
  ): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) {
      throw new RegistryError(registry, url, 401, "the Bearer challenge has no realm", undefined);
    }
    let tokenUrl: URL;
    try {
      tokenUrl = new URL(realm);
    } catch {
      throw new RegistryError(registry, url, 401, `the Bearer realm "${realm}" is not a URL`);
    }
    if (challenge.params.service) tokenUrl.searchParams.set("service", challenge.params.service);
    const wantScope = scope || challenge.params.scope;
    if (wantScope) tokenUrl.searchParams.set("scope", wantScope);
    const headers: Record<string, string> = {};
    if (creds) {
      if (!mayCarryCredentials(tokenUrl.toString())) throw credentialsOverHttpError(registry);
      headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
    }
    const res = await this.send(
      registry,
      tokenUrl.toString(),
      { method: "GET" },
      headers.authorization,
    );
    const text = await res.text();
    if (!res.ok) {
      throw this.httpError(
        registry,
        tokenUrl.toString(),
        "GET",
        res,
        text,
        res.status === 401
          ? `the token server rejected the credentials${creds ? ` for ${creds.username}` : ""}; check them with \`podman login ${registry}\``
          : undefined,
      );
    }
    let body: { token?: unknown; access_token?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new RegistryError(
        registry,
        tokenUrl.toString(),
        res.status,
        "the token server returned invalid JSON",
      );
    }
    const token = body.token ?? body.access_token;
    if (typeof token !== "string" || token === "") {
      throw new RegistryError(
        registry,
        tokenUrl.toString(),
        res.status,
        "the token server returned no token",
      );
    }
    return token;
  }

  private async credentialsFor(registry: string, scope: string): Promise<Credentials | undefined> {
    if (this.options.credentials) return this.options.credentials;
    const repository = /^repository:([^:]+):/.exec(scope)?.[1];
    return findCredentials(registry, repository, this.options);
  }

  /** One fetch; network failures become a RegistryError naming registry and URL. */
  private async send(
    registry: string,
    url: string,
    opts: RequestOptions,
    authorization: string | undefined,
  ): Promise<Response> {
    const method = opts.method ?? "GET";
    const headers: Record<string, string> = {
      "user-agent": this.options.userAgent ?? "atomiso",
    };
    if (opts.accept) headers.accept = opts.accept.join(", ");
    if (authorization) headers.authorization = authorization;
    try {
      return await this.fetchFn(url, {
        method,
        headers,
        redirect: "follow",
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new RegistryError(
        registry,
        url,
        undefined,
        `${method} ${url} failed: ${why}`,
        url.startsWith("https:")
          ? "check the registry address; a registry without TLS must be marked insecure (tlsVerify: false)"
          : "check the registry address and that it is running",
      );
    }
  }

  private manifestUrl(ref: ImageReference): string {
    return `${this.baseUrl(ref.registry)}/v2/${ref.repository}/manifests/${manifestSelector(ref)}`;
  }

  private httpError(
    registry: string,
    url: string,
    method: string,
    res: Response,
    body: string,
    hint?: string,
  ): RegistryError {
    return new RegistryError(
      registry,
      url,
      res.status,
      `${method} ${url} returned HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}${errorDetail(body)}`,
      hint,
    );
  }
}

function toRef(reference: Ref): ImageReference {
  return typeof reference === "string" ? parseReference(reference) : reference;
}

function pullScope(ref: ImageReference): string {
  return `repository:${ref.repository}:pull`;
}

function manifestHint(ref: ImageReference, res: Response): string | undefined {
  return res.status === 404
    ? `check that ${formatReference(ref)} exists (skopeo list-tags docker://${ref.registry}/${ref.repository})`
    : undefined;
}

/** The distribution API's error body: {"errors":[{"code":"MANIFEST_UNKNOWN","message":…}]}. */
function errorDetail(body: string): string {
  if (!body) return "";
  try {
    const json = JSON.parse(body) as { errors?: Array<{ code?: string; message?: string }> };
    const parts = (json.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(": "));
    if (parts.length > 0) return ` (${parts.join("; ")})`;
  } catch {
    // not JSON: fall through
  }
  const short = body.trim().slice(0, 200);
  return short ? ` (${short})` : "";
}

/** Link: </v2/x/tags/list?last=a&n=100>; rel="next" */
function nextLink(header: string | null, current: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(",")) {
    const m = /<([^>]*)>\s*;(.*)/.exec(part.trim());
    if (m?.[1] && /rel="?next"?/.test(m[2] ?? "")) return new URL(m[1], current).toString();
  }
  return undefined;
}
