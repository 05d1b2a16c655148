// The Debian packages of a root tree: dpkg-query on its dpkg database, and each package's
// licence from its copyright file. A tree may be layered (the live root's overlay on top of the
// bootstrap): the first layer that has a file wins, as in the overlay.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { lookup } from "../image/tree.js";
import { dpkgQueryArgv, type InstalledPackage, parseDpkgQuery } from "../tools/dpkg-query.js";
import { run } from "../tools/exec.js";
import { licenceOfCopyright } from "./copyright.js";

export interface RootPackage extends InstalledPackage {
  /** SPDX expression from a DEP-5 copyright file, undefined when Debian records none. */
  licence?: string;
}

const ADMINDIR = "/var/lib/dpkg";

/** Reads a file inside the image tree (links resolved inside it), from the topmost layer. */
async function readInTree(layers: string[], path: string): Promise<string | undefined> {
  for (const root of layers) {
    const entry = await lookup(root, path).catch(() => undefined);
    if (entry?.kind === "file") return readFile(entry.hostPath, "utf8").catch(() => undefined);
  }
  return undefined;
}

/** `layers`: root dirs, topmost first. */
export async function packagesOfRoot(layers: string[]): Promise<RootPackage[]> {
  const db = layers.find((root) => existsSync(join(root, ADMINDIR, "status")));
  if (!db) throw new Error(`no dpkg database (${ADMINDIR}/status) in ${layers.join(", ")}`);
  const { stdout } = await run(dpkgQueryArgv(join(db, ADMINDIR)));
  const packages: RootPackage[] = [];
  for (const p of parseDpkgQuery(stdout)) {
    const text = await readInTree(layers, `/usr/share/doc/${p.name}/copyright`);
    const licence = text === undefined ? undefined : licenceOfCopyright(text);
    packages.push(licence ? { ...p, licence } : p);
  }
  return packages;
}
