// mmdebstrap: builds the live root. Hooks are fixed scripts (libexec/), never shell strings;
// they read their inputs from the environment that atomiso passes.
export interface MmdebstrapOptions {
  suite: string;
  mirror: string;
  components: string[];
  packages: string[];
  /** Full sources lines for extra repositories ("deb [signed-by=…] uri suite comps"). */
  extraSources: string[];
  arch: string;
  /** mmdebstrap variant; atomiso builds with "apt" (Essential + apt + the listed packages). */
  variant?: "essential" | "apt" | "minbase";
  setupHooks: string[];
  customizeHooks: string[];
  target: string;
}

export function mmdebstrapArgv(o: MmdebstrapOptions): string[] {
  return [
    "mmdebstrap",
    "--mode=root",
    // mmdebstrap installs no Recommends unless told to (Apt::Install-Recommends false): the
    // live root holds what the listed packages depend on, nothing they merely recommend.
    `--variant=${o.variant ?? "apt"}`,
    `--architectures=${o.arch}`,
    `--components=${o.components.join(",")}`,
    // Keep the essential .debs in /var/cache/apt/archives so the customize hook can save them.
    "--skip=essential/unlink",
    // The setup hook pre-fills the archive cache; that is intended.
    "--skip=download/empty",
    ...o.setupHooks.map((h) => `--setup-hook=${h}`),
    ...o.customizeHooks.map((h) => `--customize-hook=${h}`),
    ...(o.packages.length > 0 ? [`--include=${[...o.packages].sort().join(",")}`] : []),
    o.suite,
    o.target,
    `deb ${o.mirror} ${o.suite} ${o.components.join(" ")}`,
    ...o.extraSources,
  ];
}

// mmdebstrap prints one "I: …" line per phase; map them to rough progress.
const PHASES: [RegExp, number][] = [
  [/running apt-get update/, 0.05],
  [/downloading packages/, 0.15],
  [/extracting archives/, 0.3],
  [/installing essential packages/, 0.4],
  [/installing remaining packages/, 0.55],
  [/running --customize-hook/, 0.9],
  [/cleaning package lists/, 0.95],
  [/success in/, 1],
];

export function mmdebstrapProgress(line: string): number | undefined {
  for (const [re, fraction] of PHASES) if (re.test(line)) return fraction;
  return undefined;
}
