import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    // Spawning suites (the built CLI, xmllint, promtool) on a shared 2-core machine: a spawn can take seconds under load.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Installs xmllint and extracts promtool when missing (test/setup/install-tools.sh).
    globalSetup: ['test/setup/tools.ts'],
    projects: [
      {extends: true, test: {name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/lab/**', 'test/hostile/**', 'node_modules/**']}},
      // Hostile inputs: fake commands that hang or flood, CLI spawns, signals: generous timeouts.
      {extends: true, test: {name: 'hostile', include: ['test/hostile/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 60_000}},
    ],
  },
})
