import {defineConfig} from 'vitest/config'

/** The differential test against the kernel: root, network namespaces only (no guests, no lab lock). */
export default defineConfig({
  test: {
    include: ['test/kernel/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 1_800_000,
    hookTimeout: 300_000,
    globalSetup: ['test/setup/scratch-dir.ts'],
  },
})
