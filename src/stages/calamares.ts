// Stage "calamares": renders the Calamares settings, module configs and branding into a tree
// that the live-config stage copies into the live root.
import { type CalamaresOptions, renderCalamares } from "../render/calamares/render.js";
import { writeTree } from "../render/file-tree.js";
import type { StageDefinition } from "./stage.js";

export const calamaresStage: StageDefinition<CalamaresOptions> = {
  id: "calamares",
  title: "Render the Calamares configuration and branding",
  tools: [],
  module: import.meta.url,
  async run(ctx, o) {
    await writeTree(ctx.outDir, await renderCalamares(o));
  },
};
