/**
 * Everything a report quotes from the host (names, evidence, log lines, rule
 * text such as `<forward mode='nat'/>`) is data, never markup: these put it
 * into Markdown, HTML and Mermaid so that it renders as the same characters.
 */
import {htmlEscape} from 'escape-goat'

/** Every line break Markdown or a terminal may take: inside host data it is shown or flattened, never taken (it would end a fence or start a line). */
const LINE_BREAK = /\r\n|[\n\r\u2028\u2029\u0085\u000b\u000c]/g
const SHOWN_BREAK: Record<string, string> = {'\r\n': '\\r\\n', '\n': '\\n', '\r': '\\r'}

/** Markdown prose: HTML-significant characters as entities, Markdown punctuation backslashed, no autolink, no line-start syntax. */
export function mdText(text: string): string {
  const escaped = text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]|~])/g, '\\$1')
    // GFM links bare URLs, www. names and e-mail addresses: escaped, they stay text.
    .replace(/:\/\//g, '\\://')
    .replace(/\b(www)\./gi, '$1\\.')
    .replace(/@/g, '\\@')
    .replace(LINE_BREAK, ' ')
  // A leading #, -, + or "1." would start a heading or a list.
  return escaped.replace(/^([#+-]|\d+(?=[.)]))/, (m) => (/^\d/.test(m) ? `${m}\\` : `\\${m}`))
}

/** A Markdown code span that holds any text literally (a fence longer than any run of backticks in it). */
export function mdCode(text: string): string {
  const flat = text.replace(LINE_BREAK, ' ')
  const longest = Math.max(0, ...[...flat.matchAll(/`+/g)].map((m) => m[0].length))
  const fence = '`'.repeat(longest + 1)
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : ''
  return `${fence}${pad}${flat}${pad}${fence}`
}

/** A fenced code block for lines of commands, fenced longer than any backtick run in them; each line stays one line. */
export function mdCodeBlock(lines: string[], info = 'sh'): string[] {
  const single = lines.map((l) => l.replace(LINE_BREAK, (b) => SHOWN_BREAK[b] ?? `\\u${b.charCodeAt(0).toString(16).padStart(4, '0')}`))
  const longest = Math.max(2, ...single.flatMap((l) => [...l.matchAll(/`+/g)].map((m) => m[0].length)))
  const fence = '`'.repeat(longest + 1)
  return [`${fence}${info}`, ...single, fence]
}

/** HTML text and attribute values. */
export const html = (text: string | number): string => htmlEscape(String(text))

/** A Mermaid label inside "...": Mermaid's numeric entity codes (#60; for <), so quotes, tags and # stay text. */
export function mermaidText(text: string): string {
  return text
    .replace(/#/g, '#35;')
    .replace(/&/g, '#38;')
    .replace(/"/g, '#34;')
    .replace(/</g, '#60;')
    .replace(/>/g, '#62;')
    .replace(/`/g, '#96;')
    .replace(/\r?\n/g, ' ')
}
