import {it} from 'vitest'
import {generate} from '/work/wt-evaluator/test/kernel/generator.js'
it('show', () => {
  for (const seed of (process.env.SEEDS ?? '1').split(',').map(Number)) {
    const r = generate(seed, true)
    console.log(`== ${seed} brnf=${r.brnf}\n-- legacy\n${r.legacy}-- iptables-nft\n${r.iptablesNft}-- nft\n${r.nft}-- incompat\n${r.incompatible}`)
  }
})
