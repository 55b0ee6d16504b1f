import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/lab/**/*.test.ts'],
    // One host, one lab: scenarios must never overlap.
    fileParallelism: false,
    sequence: {concurrent: false},
    testTimeout: 300_000,
    hookTimeout: 600_000,
    // The rule registry, written from rules/ (scripts/rules-registry.mjs).
    globalSetup: ['test/setup/rules-registry.ts', 'test/setup/scratch-dir.ts'],
  },
})
