/**
 * A rule doc (Markdown) rendered for a terminal: marked's parser with a renderer of a few ANSI styles.
 * Rule docs hold headings, paragraphs, lists, inline code and shell or JSON blocks: no syntax
 * highlighter (marked-terminal's pulled in highlight.js, a 2.3 MB chunk, to colour them).
 */
import {Chalk} from 'chalk'
import {Marked, type RendererObject, type Tokens} from 'marked'
import {type ColorLevel, colorLevel} from './style.js'

/** What marked escaped for HTML, back to the characters a terminal shows. */
const unescape = (text: string) => text.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'"})[e]!)

const indent = (text: string, by: string) => text.replace(/^(?=.)/gm, by)

/** A Markdown document rendered with colour LEVEL (the output's own by default). */
export function renderMarkdownForTerminal(markdown: string, level: ColorLevel = colorLevel()): string {
  const c = new Chalk({level})
  const renderer: RendererObject<string, string> = {
    heading({tokens, depth}) {
      const text = this.parser.parseInline(tokens)
      return `${depth === 1 ? c.magenta.underline.bold(text) : c.magenta.bold(text)}\n\n`
    },
    paragraph({tokens}) {
      return `${this.parser.parseInline(tokens)}\n\n`
    },
    list(token: Tokens.List) {
      const start = typeof token.start === 'number' ? token.start : 1
      const items = token.items.map((item, n) => {
        const body = this.parser.parse(item.tokens).trim()
        const bullet = token.ordered ? `${start + n}. ` : '* '
        return `    ${bullet}${body.replace(/\n/g, `\n    ${' '.repeat(bullet.length)}`)}`
      })
      return `${items.join('\n')}\n\n`
    },
    code({text}) {
      return `${indent(text, '    ')}\n\n`
    },
    blockquote({tokens}) {
      return `${indent(this.parser.parse(tokens).trimEnd(), c.gray('│ '))}\n\n`
    },
    hr() {
      return `${c.gray('─'.repeat(40))}\n\n`
    },
    space() {
      return ''
    },
    html({text}) {
      return text
    },
    strong({tokens}) {
      return c.bold(this.parser.parseInline(tokens))
    },
    em({tokens}) {
      return c.italic(this.parser.parseInline(tokens))
    },
    del({tokens}) {
      return c.strikethrough(this.parser.parseInline(tokens))
    },
    codespan({text}) {
      return c.yellow(unescape(text))
    },
    br() {
      return '\n'
    },
    link({tokens, href}) {
      const text = this.parser.parseInline(tokens)
      return text === href ? c.blue(href) : `${text} (${c.blue(href)})`
    },
    text(token: Tokens.Text | Tokens.Escape) {
      return 'tokens' in token && token.tokens ? this.parser.parseInline(token.tokens) : unescape(token.text)
    },
  }
  const marked = new Marked({renderer})
  return (marked.parse(markdown, {async: false}) as string).trimEnd() + '\n'
}
