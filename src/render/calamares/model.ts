// Typed models of the Calamares 3.3 files atomiso writes. Each is dumped with js-yaml; keys are
// Calamares' own (checked against calamares/calamares src/modules/*/*.conf, 3.3.14).

export type SequenceStep = { show: string[] } | { exec: string[] };

export interface CalamaresInstance {
  id: string;
  module: string;
  config: string;
}

export interface SettingsConf {
  "modules-search": string[];
  instances: CalamaresInstance[];
  sequence: SequenceStep[];
  branding: string;
  "prompt-install": boolean;
  "dont-chroot": boolean;
  "oem-setup": boolean;
  "disable-cancel": boolean;
  "disable-cancel-during-exec": boolean;
  "hide-back-and-next-during-exec": boolean;
  "quit-at-end": boolean;
}

export interface BrandingDesc {
  componentName: string;
  welcomeStyleCalamares: boolean;
  welcomeExpandingLogo: boolean;
  windowExpanding: "normal" | "fullscreen" | "noexpand";
  windowSize: string;
  windowPlacement: "center" | "free";
  sidebar: "widget" | "qml";
  navigation: "widget" | "qml";
  strings: Record<string, string>;
  images: { productLogo: string; productIcon: string; productWelcome: string };
  style: Record<string, string>;
  slideshow: string;
  slideshowAPI: 1 | 2;
}

/** Module configurations by file name (without .conf); values are Calamares' keys. */
export type ModuleConfigs = Record<string, Record<string, unknown>>;
