// Registry authentication inputs: parsing WWW-Authenticate challenges (RFC 7235) and finding
// credentials in the auth files podman, skopeo and docker write, in the order containers/image
// reads them, so `podman login` once is enough for atomiso too.
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { AtomisoError } from "../errors.js";
import { DOCKER_HUB } from "./reference.js";

export interface AuthChallenge {
  /** Lowercased, e.g. "basic" or "bearer". */
  scheme: string;
  /** Parameter names lowercased (realm, service, scope, error). */
  params: Record<string, string>;
  /** The bare token68 form ("Negotiate abc=="), when used instead of parameters. */
  token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*(?=\s*(,|$))/;

/**
 * Parses a WWW-Authenticate value. One header can hold several challenges, and fetch joins
 * repeated headers with ", ", so commas separate both parameters and challenges: a name
 * followed by "=" is a parameter, anything else starts the next challenge.
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < header.length && /\s/.test(header.charAt(i))) i++;
  };
  const token = () => {
    const start = i;
    while (i < header.length && TCHAR.test(header.charAt(i))) i++;
    return header.slice(start, i);
  };
  const value = () => {
    if (header.charAt(i) !== '"') return token();
    i++;
    let out = "";
    while (i < header.length && header.charAt(i) !== '"') {
      if (header.charAt(i) === "\\" && i + 1 < header.length) i++;
      out += header.charAt(i);
      i++;
    }
    i++; // closing quote (or end of input for an unterminated string)
    return out;
  };
  /** True when a "name =" follows, i.e. the next item is a parameter, not a new scheme. */
  const paramAhead = () => {
    const save = i;
    skipSpace();
    const name = token();
    skipSpace();
    const result = name !== "" && header.charAt(i) === "=";
    i = save;
    return result;
  };

  while (i < header.length) {
    while (i < header.length && /[\s,]/.test(header.charAt(i))) i++;
    if (i >= header.length) break;
    const scheme = token();
    if (scheme === "") {
      i++; // stray character: skip it rather than loop forever
      continue;
    }
    const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    skipSpace();
    const t68 = TOKEN68.exec(header.slice(i));
    if (t68 && !paramAhead()) {
      challenge.token68 = t68[0];
      i += t68[0].length;
      continue;
    }
    while (paramAhead()) {
      skipSpace();
      const name = token().toLowerCase();
      skipSpace();
      i++; // "="
      skipSpace();
      challenge.params[name] = value();
      skipSpace();
      if (header.charAt(i) !== ",") break;
      i++;
    }
  }
  return challenges;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface AuthFileOptions {
  /** Use only this file (like --authfile); REGISTRY_AUTH_FILE does the same. */
  authFile?: string;
  env?: NodeJS.ProcessEnv;
  homeDir?: string;
}

/** The files to search, most important first (containers-auth.json(5)). */
export function authFilePaths(options: AuthFileOptions = {}): string[] {
  const env = options.env ?? process.env;
  const home = options.homeDir ?? env.HOME ?? homedir();
  const explicit = options.authFile ?? env.REGISTRY_AUTH_FILE;
  if (explicit) return [explicit];
  const runtimeDir = env.XDG_RUNTIME_DIR
    ? join(env.XDG_RUNTIME_DIR, "containers")
    : join("/run/containers", String(process.getuid?.() ?? 0));
  return [
    join(runtimeDir, "auth.json"),
    join(env.XDG_CONFIG_HOME || join(home, ".config"), "containers", "auth.json"),
    join(env.DOCKER_CONFIG || join(home, ".docker"), "config.json"),
  ];
}

interface AuthEntry {
  auth?: string;
  identitytoken?: string;
}

/**
 * Credentials for `registry` (and optionally `repository`, since auth.json keys may name a
 * namespace such as "quay.io/org"): the most specific key in the first file that has one.
 */
export async function findCredentials(
  registry: string,
  repository?: string,
  options: AuthFileOptions = {},
): Promise<Credentials | undefined> {
  const wanted: string[] = [];
  if (repository) {
    const parts = repository.split("/");
    for (let n = parts.length; n > 0; n--)
      wanted.push(`${registry}/${parts.slice(0, n).join("/")}`);
  }
  wanted.push(registry);

  for (const path of authFilePaths(options)) {
    const auths = await readAuths(path);
    if (!auths) continue;
    for (const key of wanted) {
      const entry = auths.get(key);
      if (entry?.auth) return decodeAuth(entry.auth, path, key);
    }
  }
  return undefined;
}

async function readAuths(path: string): Promise<Map<string, AuthEntry> | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined; // a missing file is normal
  }
  let json: { auths?: Record<string, AuthEntry> };
  try {
    json = JSON.parse(text) as typeof json;
  } catch (err) {
    throw new AtomisoError(
      "registry-error",
      `auth file ${path} is not valid JSON: ${(err as Error).message}`,
      "fix or delete the file, then log in again with `podman login`",
    );
  }
  const map = new Map<string, AuthEntry>();
  for (const [key, entry] of Object.entries(json.auths ?? {})) {
    map.set(normaliseAuthKey(key), entry);
  }
  return map;
}

/** Docker writes "https://index.docker.io/v1/"; containers writes "docker.io" or "host/ns". */
export function normaliseAuthKey(key: string): string {
  let k = key;
  if (/^https?:\/\//.test(k)) {
    k = k.replace(/^https?:\/\//, "");
    k = k.split("/")[0] ?? k;
  }
  return k === "index.docker.io" || k === "registry-1.docker.io" ? DOCKER_HUB : k;
}

function decodeAuth(auth: string, path: string, key: string): Credentials {
  const decoded = Buffer.from(auth, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) {
    throw new AtomisoError(
      "registry-error",
      `auth file ${path}: the "auth" field for ${key} is not base64 of "user:password"`,
      `log in again with \`podman login ${key}\``,
    );
  }
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Whether credentials may travel to `url`: over TLS, or over plain http to this machine only
 * (a local development registry on 127.0.0.0/8 or ::1). Anywhere else plain http would show
 * them to everyone on the path.
 */
export function mayCarryCredentials(url: string): boolean {
  const u = new URL(url);
  if (u.protocol === "https:") return true;
  const host = u.hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Refuses, before anything is sent, to let podman or skopeo log in to `registry` over plain
 * http (image.tls_verify = false) with credentials from auth.json, unless the registry is on
 * this machine.
 */
export async function refuseCredentialsOverHttp(
  registry: string,
  repository: string | undefined,
  access: { tlsVerify: boolean } & AuthFileOptions,
): Promise<void> {
  if (access.tlsVerify || mayCarryCredentials(`http://${registry}/`)) return;
  if (!(await findCredentials(registry, repository, access))) return;
  throw credentialsOverHttpError(registry);
}

export function credentialsOverHttpError(registry: string): AtomisoError {
  return new AtomisoError(
    "registry-error",
    `refusing to send the credentials auth.json holds for ${registry} over plain http (image.tls_verify = false): anyone on the network path could read them`,
    `serve ${registry} over TLS and set image.tls_verify = true, or use a registry on this machine (127.0.0.1) for plain http, or log out of it (podman logout ${registry})`,
    2,
  );
}
