// Mutation check of the netfilter evaluator (npm run mutation; not in CI: too slow for it). The rules'
// conditions and thresholds are mutated in memory by test/mutation/rules.mutation.ts, which is much faster.
// A run on part of the code (KD_MUTATE=file.ts:10-200) names its own report (KD_MUTATION_REPORT=part1).
const report = process.env.KD_MUTATION_REPORT ?? 'evaluator'
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: {configFile: 'test/mutation/vitest.config.ts'},
  mutate: process.env.KD_MUTATE?.split(',') ?? ['src/datapath/netfilter/evaluate.ts'],
  coverageAnalysis: 'perTest',
  concurrency: Number(process.env.KD_MUTATION_CONCURRENCY ?? 2),
  // A loaded 2-core machine: the first run of the suites takes minutes.
  dryRunTimeoutMinutes: 30,
  timeoutMS: 60_000,
  // Unchanged mutants and tests keep their result from the last run (npm run mutation:evaluator -- --force redoes all).
  incremental: true,
  incrementalFile: `test/mutation/out/${report}-incremental.json`,
  reporters: ['clear-text', 'progress-append-only', 'json'],
  jsonReporter: {fileName: `test/mutation/out/${report}.json`},
  tempDirName: '.stryker-tmp',
  thresholds: {high: 98, low: 95, break: null},
}
