// Image references ("quay.io/fedora/fedora-bootc:42", "debian", "localhost:5000/x@sha256:…")
// following the docker/distribution reference grammar, so that a string means here exactly what
// it means to podman, skopeo and the registry:
//
//   reference       := name [ ":" tag ] [ "@" digest ]
//   name            := [ domain "/" ] path-component [ "/" path-component ]*
//   domain          := host [ ":" port ]      host: DNS name, IPv4, or [IPv6]
//   path-component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//   tag             := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//
// The first component is a registry only if it contains "." or ":", is "localhost", or has
// uppercase letters; otherwise the name lives on Docker Hub ("docker.io"), where one-component
// names are under "library/".
import { AtomisoError } from "../errors.js";
import { parseDigest } from "./digest.js";

export interface ImageReference {
  /** Registry host[:port], normalised ("docker.io" for Docker Hub). */
  registry: string;
  /** Repository path inside the registry, e.g. "library/debian". */
  repository: string;
  tag?: string;
  /** "sha256:…"; when present it identifies the content, the tag is only informational. */
  digest?: string;
}

export interface ParseReferenceOptions {
  /** Add ":latest" when neither a tag nor a digest is given (default true, like podman). */
  defaultTag?: boolean;
}

export const DOCKER_HUB = "docker.io";
const LEGACY_DOCKER_HUB = "index.docker.io";
const MAX_NAME_LENGTH = 255;

const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const DOMAIN_RE = new RegExp(`^${HOST}(?::[0-9]+)?$`);
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const PATH_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;

const HINT =
  'write it as [registry[:port]/]path[:tag][@sha256:<hex>], e.g. "quay.io/fedora/fedora-bootc:42"';

function invalid(text: string, why: string): AtomisoError {
  return new AtomisoError(
    "oci-invalid-reference",
    `invalid image reference "${text}": ${why}`,
    HINT,
  );
}

/** Parses and normalises a reference: "debian" becomes docker.io/library/debian:latest. */
export function parseReference(text: string, options: ParseReferenceOptions = {}): ImageReference {
  if (text === "") throw invalid(text, "it is empty");
  if (text !== text.trim()) throw invalid(text, "it has leading or trailing whitespace");

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      parseDigest(digest);
    } catch (err) {
      throw invalid(text, (err as Error).message);
    }
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) {
      throw invalid(
        text,
        tag === ""
          ? "the tag after ':' is empty"
          : `tag "${tag}" must be 1-128 characters of A-Z a-z 0-9 _ . - and not start with . or -`,
      );
    }
  }

  if (rest === "") throw invalid(text, "the repository name is empty");
  if (rest.length > MAX_NAME_LENGTH) {
    throw invalid(text, `the name must not be longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (IDENTIFIER_RE.test(rest)) {
    throw invalid(text, "a 64-character hex string is an image ID, not a repository name");
  }

  let registry: string;
  let repository: string;
  const slash = rest.indexOf("/");
  const first = slash < 0 ? "" : rest.slice(0, slash);
  if (slash >= 0 && isRegistryComponent(first)) {
    registry = first;
    repository = rest.slice(slash + 1);
    if (!DOMAIN_RE.test(registry))
      throw invalid(text, `"${registry}" is not a valid registry host`);
  } else {
    registry = DOCKER_HUB;
    repository = rest;
  }
  if (registry === LEGACY_DOCKER_HUB) registry = DOCKER_HUB;

  if (repository !== repository.toLowerCase()) {
    throw invalid(text, "the repository name must be lowercase");
  }
  if (!PATH_RE.test(repository)) {
    throw invalid(
      text,
      `"${repository}" is not a valid repository path (lowercase components of a-z 0-9 separated by "/", joined inside by ".", "_", "__" or "-")`,
    );
  }
  if (registry === DOCKER_HUB && !repository.includes("/")) repository = `library/${repository}`;

  if (tag === undefined && digest === undefined && (options.defaultTag ?? true)) tag = "latest";
  const ref: ImageReference = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

function isRegistryComponent(component: string): boolean {
  return (
    component.includes(".") ||
    component.includes(":") ||
    component === "localhost" ||
    component !== component.toLowerCase()
  );
}

export function isValidReference(text: string): boolean {
  try {
    parseReference(text);
    return true;
  } catch {
    return false;
  }
}

/** "registry/repository", fully qualified. */
export function fullName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** Fully qualified form: "docker.io/library/debian:latest". */
export function formatReference(ref: ImageReference): string {
  return fullName(ref) + suffix(ref);
}

/** The short name people type: "debian" for docker.io/library/debian, "foo/bar" for Hub users. */
export function familiarName(ref: ImageReference): string {
  if (ref.registry !== DOCKER_HUB) return fullName(ref);
  const path = ref.repository;
  if (path.startsWith("library/") && path.indexOf("/", "library/".length) < 0) {
    return path.slice("library/".length);
  }
  return path;
}

/** familiarName plus tag and digest: "debian:latest", "quay.io/x/y@sha256:…". */
export function familiarReference(ref: ImageReference): string {
  return familiarName(ref) + suffix(ref);
}

/** What goes after /manifests/ in a registry URL: the digest if known, else the tag. */
export function manifestSelector(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? "latest";
}

function suffix(ref: ImageReference): string {
  return (ref.tag === undefined ? "" : `:${ref.tag}`) + (ref.digest ? `@${ref.digest}` : "");
}
