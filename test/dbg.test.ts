import {it} from 'vitest'
import {diagnose} from '../src/core/diagnose.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {fixtureDir, replayOptions} from './helpers.js'
it('dbg', async () => {
  for (const name of (process.env.FIX ?? 'healthy').split(',')) {
    const runner = await ReplayRunner.open(fixtureDir(name))
    const d = await diagnose({runner, options: replayOptions(runner), version: 'test'})
    console.log('== ' + name, d.probes.filter((p) => !p.ok).map((p) => `${p.id}: ${p.error}`))
    for (const f of d.findings) console.log(`  ${f.rank}. ${f.severity} ${f.id} [${f.entity.kind}] ${f.entity.name}${f.explainedBy ? ' <- ' + f.explainedBy : ''}\n      fix: ${f.fix.join(' | ')}`)
    for (const f of d.flows) console.log(`  flow ${f.guest} ${f.kind} ${f.verdict}${f.decidedBy ? ' @ ' + f.decidedBy.name + ': ' + f.decidedBy.detail : ''}`)
    console.log('  notChecked', [...new Set(d.notChecked.map((n) => n.ruleId))].join(','))
  }
})
