import {defineConfig} from 'vitest/config'

/** The suites that judge the netfilter evaluator: what Stryker runs per mutant (npm run mutation). */
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    globalSetup: ['test/setup/rules-registry.ts'],
    include: process.env.KD_MUTATION_TESTS?.split(',') ?? ['test/datapath/**/*.test.ts', 'test/netfilter/**/*.test.ts'],
  },
})
