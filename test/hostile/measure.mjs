// Preloaded into a spawned kvmdoctor (node --import): at exit, writes the CPU time and the peak
// resident memory of the process to the file named by KVMDOCTOR_TEST_USAGE.
import {writeFileSync} from 'node:fs'

const file = process.env.KVMDOCTOR_TEST_USAGE
if (file) {
  process.on('exit', () => {
    const cpu = process.cpuUsage()
    writeFileSync(file, JSON.stringify({cpuMs: (cpu.user + cpu.system) / 1000, maxRssBytes: process.resourceUsage().maxRSS * 1024}))
  })
}
