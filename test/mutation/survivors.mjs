// Lists what Stryker left alive in its JSON reports (node test/mutation/survivors.mjs test/mutation/out/*.json): status file:line:column mutator | original => replacement, then the counts by status.
import {readFileSync} from 'node:fs'
const counts = {}
for (const f of process.argv.slice(2)) {
  const r = JSON.parse(readFileSync(f, 'utf8'))
  for (const [path, file] of Object.entries(r.files)) {
    const lines = file.source.split('\n')
    for (const m of file.mutants) {
      counts[m.status] = (counts[m.status] ?? 0) + 1
      if (m.status === 'Killed' || m.status === 'Timeout' || m.status === 'CompileError' || m.status === 'RuntimeError') continue
      const {start, end} = m.location
      const orig = start.line === end.line ? lines[start.line - 1].slice(start.column - 1, end.column - 1) : lines[start.line - 1].slice(start.column - 1) + ' …'
      console.log(`${m.status} ${path.split('/').pop()}:${start.line}:${start.column} ${m.mutatorName} | ${orig.slice(0, 90)} => ${String(m.replacement).replace(/\s+/g, ' ').slice(0, 90)}`)
    }
  }
}
console.log(JSON.stringify(counts))
