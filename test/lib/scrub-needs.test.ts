/**
 * A credential form skips a text without what its pattern cannot match without (its `needs`, issue 31: most report
 * strings reach no form's pattern). Skipping must change nothing: every planted secret, each form's texts in the
 * corpus, alone and joined, and the texts a form rewrites for the next, scrub exactly as the whole table run on them.
 */
import {describe, expect, it} from 'vitest'
import {CREDENTIAL_FORMS, scrubText} from '../../src/lib/scrub.js'
import {ALL_LINE_FORMS, DHCPD_KEYS, PEM_LINES, XML_FORMS} from '../hostile/corpus.js'

/** scrubText with no form skipped for its `needs`. */
function everyForm(text: string): string {
  const needs = CREDENTIAL_FORMS.map((f) => f.needs)
  for (const form of CREDENTIAL_FORMS) delete form.needs
  try {
    return scrubText(text)
  } finally {
    CREDENTIAL_FORMS.forEach((form, i) => (form.needs = needs[i]))
  }
}

const TEXTS = [...ALL_LINE_FORMS.map((f) => f.text), ...XML_FORMS.map((f) => f.text), ...PEM_LINES, DHCPD_KEYS, 'to the internet 9.9.9.9:443/tcp via eth0', 'udp 0.0.0.0:68 > 255.255.255.255:67 ct new', 'bot 123456789:AAabcdefghijklmnopqrstuvwxyz0123456 sent']

describe('credential forms skipped for what they need', () => {
  it('every form with a pattern of its own says what it needs', () => {
    expect(CREDENTIAL_FORMS.filter((f) => f.needs === undefined && f.group === undefined).map((f) => f.form)).toEqual([])
  })

  it.each(TEXTS.map((t) => [t.slice(0, 60), t]))('%s', (_, text) => {
    for (const t of [text, text.toUpperCase(), text.toLowerCase(), `${text} ; ${TEXTS[(TEXTS.indexOf(text) + 1) % TEXTS.length]}`]) expect(scrubText(t)).toBe(everyForm(t))
  })
})
