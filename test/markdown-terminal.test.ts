import {describe, expect, it} from 'vitest'
import {renderMarkdownForTerminal} from '../reports/markdown-terminal.js'

describe('rule docs on a terminal', () => {
  const doc = '# x-rule — high (host)\n\n**Fix.** Run `a && b <c>`:\n\n```sh\nsysctl -w x=1   # persist\n```\n\n- id: `x-rule`\n- severity: high\n'

  it('styles headings, bold and inline code, indents code blocks and lists, and shows what marked escaped as typed', () => {
    const out = renderMarkdownForTerminal(doc, 1)
    expect(out).toContain('\u001b[1mFix.\u001b[22m')
    expect(out).toContain('\u001b[33ma && b <c>\u001b[39m')
    expect(out).toContain('\n    sysctl -w x=1   # persist\n')
    expect(out).toContain('    * id: \u001b[33mx-rule\u001b[39m\n    * severity: high')
    expect(out).toMatch(/^\u001b\[35m\u001b\[4m\u001b\[1mx-rule — high \(host\)/)
  })

  it('without colour keeps the text and layout, no escape sequences', () => {
    const out = renderMarkdownForTerminal(doc, 0)
    expect(out).not.toMatch(/\u001b/)
    expect(out).toContain('Fix. Run a && b <c>:')
  })
})
