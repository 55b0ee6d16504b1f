import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    projects: [
      {extends: true, test: {name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/lab/**', 'test/hostile/**', 'node_modules/**']}},
      // Hostile inputs: fake commands that hang or flood, CLI spawns, signals. Each spawn on a loaded
      // 2-core machine can take seconds, so these get generous timeouts.
      {extends: true, test: {name: 'hostile', include: ['test/hostile/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 60_000}},
    ],
  },
})
