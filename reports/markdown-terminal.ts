import {Marked} from 'marked'
import {markedTerminal} from 'marked-terminal'

/** A Markdown document (a rule's doc) rendered for a terminal. */
export function renderMarkdownForTerminal(markdown: string): string {
  const marked = new Marked()
  marked.use(markedTerminal({reflowText: false, showSectionPrefix: false, width: process.stdout.columns || 100}))
  return marked.parse(markdown, {async: false}) as string
}
