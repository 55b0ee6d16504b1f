import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/lab/**', 'node_modules/**'],
    // Tests that spawn the CLI, Chromium or tmux share two cores with other work: generous limits, not flaky ones.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
})
