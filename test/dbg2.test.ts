import {it} from 'vitest'
import {groundTruth} from './ground-truth.js'
import {fixtureDir} from './helpers.js'
it('dbg', async () => {
  for (const name of (process.env.FIX ?? 'healthy').split(',')) {
    const t = await groundTruth(fixtureDir(name), {})
    console.log('== ' + name, JSON.stringify(t.disagreements, null, 1))
  }
})
