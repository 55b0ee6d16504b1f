import {defineConfig} from 'vitest/config'

/**
 * The suites that judge the netfilter evaluator: what Stryker runs per mutant (npm run mutation:evaluator).
 * Only those that walk packets through the evaluator (directly, or through the datapath model and the rules);
 * the parser suites (iptables-save, nft JSON, ipset) never reach it and cost a minute per dry run.
 */
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Stryker switches mutants at run time (no re-import needed): one module graph for every run saves
    // re-executing the model's imports per mutant, most of the time a run takes. These suites mock nothing.
    isolate: false,
    globalSetup: ['test/setup/rules-registry.ts'],
    include: process.env.KD_MUTATION_TESTS?.split(',') ?? ['test/datapath/**/*.test.ts', 'test/netfilter/firewalld-real.test.ts'],
  },
})
