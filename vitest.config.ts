import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/lab/**', 'node_modules/**'],
    // Suites spawn the built CLI and external validators (xmllint, promtool) on a shared 2-core
    // machine: a spawn can take seconds under load.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Installs xmllint and extracts promtool when missing (test/setup/install-tools.sh).
    globalSetup: ['test/setup/tools.ts'],
  },
})
