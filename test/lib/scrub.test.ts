import {describe, expect, it} from 'vitest'
import {scrubDeep, scrubbedJson} from '../../src/lib/scrub.js'
import {LINE_FORMS} from '../hostile/corpus.js'

describe('scrubbedJson', () => {
  const texts = LINE_FORMS.map((f) => f.text)
  const value = {
    plain: 'guest0001',
    list: texts,
    nested: {flows: texts.map((text, i) => ({guest: `g${i}`, description: text, decidedBy: i % 2 ? {detail: text, element: `${text} `.repeat(40)} : undefined}))},
    counts: {critical: 0, high: 2},
    flags: [true, false, null],
  }

  it('writes what JSON.stringify of scrubDeep writes, with and without indentation', () => {
    expect(scrubbedJson(value, 2)).toBe(JSON.stringify(scrubDeep(value), null, 2))
    expect(scrubbedJson(value)).toBe(JSON.stringify(scrubDeep(value)))
  })

  it('leaves no planted secret in the text, long texts included', () => {
    const text = scrubbedJson(value, 2)
    for (const form of LINE_FORMS) for (const secret of form.secrets) expect(text, form.form).not.toContain(secret)
  })
})
