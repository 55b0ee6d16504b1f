/** Damaged input gives a ParseError or a result, never another exception. */
import {describe, expect, it} from 'vitest'
import {parseIpsetIR} from '../../probes/netfilter/ipset.js'
import {parseIptablesSaveIR} from '../../probes/netfilter/iptables-save.js'
import {parseNftJsonIR} from '../../probes/netfilter/nft-json.js'
import {buildRuleset} from '../../probes/netfilter/ruleset.js'
import {ParseError} from '../../probes/types.js'
import {data} from './data.js'

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function survives(fn: () => unknown) {
  try {
    fn()
  } catch (error) {
    if (!(error instanceof ParseError)) throw error
  }
}

const JUNK: unknown[] = [null, 0, -1, 1e21, '', '@', '!', 'x', [], [null], {}, {set: null}, {range: [1]}, {prefix: {}}, {concat: 'x'}, {'&': [1]}, true]

/** Replaces a random value somewhere in the JSON tree with junk. */
function mutate(x: unknown, random: () => number): unknown {
  if (Array.isArray(x)) return x.map((e) => (random() < 0.02 ? JUNK[Math.floor(random() * JUNK.length)] : mutate(e, random)))
  if (x !== null && typeof x === 'object') {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, random() < 0.02 ? JUNK[Math.floor(random() * JUNK.length)] : mutate(v, random)]))
  }
  return x
}

describe('damaged listings', () => {
  it('iptables-save: lines dropped, cut or shuffled', () => {
    const random = rng(1)
    for (const file of ['kitchen.iptables-save-c.txt', 'ufw.iptables-legacy-save.txt', 'docker.iptables-save.txt']) {
      const lines = data(file).split('\n')
      for (let i = 0; i < 200; i++) {
        const damaged = lines
          .filter(() => random() > 0.05)
          .map((l) => (random() < 0.05 ? l.slice(0, Math.floor(random() * l.length)) : random() < 0.02 ? l.split(' ').reverse().join(' ') : l))
          .join('\n')
        survives(() => parseIptablesSaveIR(damaged, {backend: 'iptables-nft', family: 'ip'}))
      }
    }
  })

  it('nft JSON: values replaced with junk of any type', () => {
    const random = rng(2)
    for (const file of ['nft-native.nft-j-list-ruleset.json', 'firewalld.nft-j-list-ruleset.json', 'nft-objects.nft-j-list-ruleset.json', 'kitchen.nft-j-list-ruleset.json']) {
      const doc = JSON.parse(data(file)) as unknown
      for (let i = 0; i < 100; i++) survives(() => parseNftJsonIR(JSON.stringify(mutate(doc, random)), {text: data(file.replace('nft-j-list-ruleset.json', 'nft-a-list-ruleset.txt')).slice(0, Math.floor(random() * 5000))}))
    }
  })

  it('ipset and the whole build', () => {
    const random = rng(3)
    const text = data('kitchen.ipset-list.txt')
    for (let i = 0; i < 200; i++) {
      const cut = text.slice(0, Math.floor(random() * text.length))
      survives(() => parseIpsetIR(cut))
      survives(() => buildRuleset({iptables: [{text: data('kitchen.iptables-save.txt').slice(0, Math.floor(random() * 8000)), family: 'ip'}], ipset: cut}))
    }
    expect(true).toBe(true)
  })
})
