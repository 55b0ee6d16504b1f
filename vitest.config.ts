import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    // Suites spawn the built CLI, xmllint, promtool, Chromium and tmux on a shared 2-core machine:
    // a spawn can take seconds under load, so limits are generous, not flaky.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Installs xmllint and extracts promtool when missing (test/setup/install-tools.sh).
    globalSetup: ['test/setup/rules-registry.ts', 'test/setup/tools.ts', 'test/setup/scratch-dir.ts'],
    // The run ends with the suites it skipped and what installs their tools (fails under KD_REQUIRE_ALL_SUITES=1).
    reporters: ['default', './test/setup/skipped-suites.ts'],
    projects: [
      {extends: true, test: {name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/lab/**', 'test/kernel/**', 'test/hostile/**', 'node_modules/**']}},
      // Hostile inputs: fake commands that hang or flood, CLI spawns, signals.
      {extends: true, test: {name: 'hostile', include: ['test/hostile/**/*.test.ts'], hookTimeout: 60_000}},
    ],
  },
})
