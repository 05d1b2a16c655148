import { defineConfig } from "vitest/config";

// The builder container tier (`npm run test:container`, as root, not part of `npm test`): builds
// oci/builder's image and the example ISO inside it. Heavy: minutes warm, much longer cold.
export default defineConfig({
  test: {
    include: ["test/container/**/*.test.ts"],
    testTimeout: 3_600_000,
    hookTimeout: 3_600_000,
  },
});
