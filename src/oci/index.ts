// Our small typed OCI library: references, digests, image layouts and a registry client.
export * from "./auth.js";
export * from "./digest.js";
export * from "./layout.js";
export * from "./manifest.js";
export * from "./reference.js";
export * from "./registry.js";
