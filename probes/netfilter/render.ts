/** nft-like text of IR expressions, for evidence and tests (not meant to be fed back to nft). */
import type {NfExpr, NfField, NfRule, NfStatement, NfValue} from '../../src/lib/netfilter.js'
import {tcpFlagNames} from './names.js'

const QUOTED_FIELDS = new Set<NfField>(['iifname', 'oifname', 'ibrname', 'obrname', 'physdev-in', 'physdev-out'])
const HEX_FIELDS = new Set<NfField>(['mark', 'ct mark'])
const OPS = {eq: '', ne: '!= ', lt: '< ', gt: '> ', le: '<= ', ge: '>= '} as const

const hex = (n: number) => `0x${n.toString(16)}`

function renderNumber(n: number, field?: NfField): string {
  if (field === 'tcp flags') return n === 0 ? '0x0' : tcpFlagNames(n).join('|')
  return field !== undefined && HEX_FIELDS.has(field) ? hex(n) : String(n)
}

export function renderValue(v: NfValue, field?: NfField): string {
  switch (v.t) {
    case 'str':
      return field !== undefined && QUOTED_FIELDS.has(field) ? JSON.stringify(v.v) : v.v
    case 'num':
      return renderNumber(v.v, field)
    case 'addr':
    case 'prefix':
      return v.v
    case 'range':
      return `${renderValue(v.lo, field)}-${renderValue(v.hi, field)}`
    case 'flags':
      return v.v.join(',')
    case 'set':
      return `{ ${v.elems.map((e) => renderValue(e, field)).join(', ')} }`
    case 'concat':
      return v.parts.map((p) => renderValue(p)).join(' . ')
    case 'setref':
      return `@${v.name}`
  }
}

function renderField(field: NfField, iface?: 'iif' | 'oif', fibMark?: true): string {
  if (!field.startsWith('fib ')) return field
  const [fib, addr, result] = field.split(' ')
  return [`${fib} ${addr}`, ...(fibMark ? ['mark'] : []), ...(iface ? [iface] : [])].join(' . ') + ` ${result}`
}

export function renderStatement(s: NfStatement): string {
  switch (s.kind) {
    case 'verdict':
      return s.text ?? s.verdict
    case 'jump':
    case 'goto':
      return `${s.kind} ${s.target}`
    default:
      return s.text
  }
}

export function renderExpr(e: NfExpr): string {
  switch (e.kind) {
    case 'cmp': {
      const left = e.concat ? e.concat.map((f) => renderField(f)).join(' . ') : renderField(e.field, e.iface, e.fibMark)
      // A route lookup that finds no device: nft's `missing` (and `exists` for its negation).
      if (e.value.t === 'str' && e.value.v === '' && (e.field === 'fib saddr oif' || e.field === 'fib daddr oif')) return `${left} ${e.op === 'eq' ? 'missing' : 'exists'}`
      if (e.field === 'rpfilter') return `-m rpfilter${e.value.t === 'flags' ? e.value.v.map((o) => ` --${o}`).join('') : ''}${e.op === 'ne' ? ' --invert' : ''}`
      const value = renderValue(e.value, e.concat ? undefined : e.field)
      if (e.mask === undefined) return `${left} ${OPS[e.op]}${value}`
      const mask = renderNumber(e.mask, e.field === 'tcp flags' ? 'tcp flags' : 'mark')
      return `${left} & ${mask} ${e.op === 'eq' ? '== ' : OPS[e.op]}${value}`
    }
    case 'nondeterministic':
    case 'opaque':
      return e.text
    default:
      return renderStatement(e)
  }
}

/** The rule's expressions as one line; implicit dependencies are left out unless asked for. */
export function renderRule(rule: Pick<NfRule, 'exprs' | 'comment'>, opts: {implicit?: boolean} = {}): string {
  const parts = rule.exprs.filter((e) => opts.implicit || !(e.kind === 'cmp' && e.implicit)).map(renderExpr)
  if (rule.comment !== undefined) parts.push(`comment ${JSON.stringify(rule.comment)}`)
  return parts.join(' ')
}
