// The Calamares renderer's options, derived from the config (used by the plan and by the
// pre-build validation, so both see exactly what will be rendered).
import { parseReference } from "../oci/reference.js";
import { RegistryClient } from "../oci/registry.js";
import type { CalamaresOptions } from "../render/calamares/render.js";
import { resolveFrom } from "./paths.js";
import type { Config } from "./schema.js";

export function calamaresOptionsFor(c: Config, dir: string): CalamaresOptions {
  return {
    productName: c.product.name,
    productId: c.product.id,
    productVersion: c.product.version,
    ...(c.product.url ? { productUrl: c.product.url } : {}),
    sidebarBackground: c.branding.sidebar_background,
    sidebarText: c.branding.sidebar_text,
    brandingDir: resolveFrom(dir, c.branding.folder),
    images: { logo: c.branding.logo, icon: c.branding.icon, welcome: c.branding.welcome },
    slides: c.branding.slides,
    installer: c.installer,
    ...(c.image?.payload === "online"
      ? {
          onlineCheckUrl: c.installer.requirements.internet_check_url ?? onlineCheckUrl(c.image),
        }
      : {}),
  };
}

/** The registry's API root: what an online install needs to reach (Calamares' internet check). */
function onlineCheckUrl(image: NonNullable<Config["image"]>): string {
  const { registry } = parseReference(image.reference);
  return `${new RegistryClient({ tlsVerify: image.tls_verify }).baseUrl(registry)}/v2/`;
}
