import {defineConfig} from 'vitest/config'

/** The rules' in-memory mutation check (npm run mutation:rules). */
export default defineConfig({
  test: {
    testTimeout: 3_600_000,
    globalSetup: ['test/setup/rules-registry.ts'],
    include: ['test/mutation/rules.mutation.ts'],
  },
})
