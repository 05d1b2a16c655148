import { defineConfig } from "vitest/config";

// Four tiers, each a vitest project: unit (pure code), tools (real external tools on tiny
// inputs), iso (builds the example ISO once), boot (QEMU boots that ISO).
export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      {
        test: {
          name: "tools",
          include: ["test/tools/**/*.test.ts"],
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
      {
        test: {
          name: "iso",
          include: ["test/iso/**/*.test.ts"],
          globalSetup: ["test/support/iso-fixture.ts"],
          testTimeout: 1_800_000,
          hookTimeout: 1_800_000,
        },
      },
      {
        test: {
          name: "boot",
          include: ["test/boot/**/*.test.ts"],
          // Two TCG guests at a time on a 2-core host: with more, systemd's 90 s generator
          // timeout can expire inside a guest and it freezes.
          maxConcurrency: 2,
          fileParallelism: false,
          globalSetup: ["test/support/iso-fixture.ts"],
          testTimeout: 1_800_000,
          hookTimeout: 1_800_000,
        },
      },
    ],
  },
});
