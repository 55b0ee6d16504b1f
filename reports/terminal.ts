import {Marked} from 'marked'
import {markedTerminal} from 'marked-terminal'
import type {Diagnosis} from '../src/core/diagnose.js'
import {renderMarkdown} from './markdown.js'
import {renderText} from './text.js'

/** Markdown rendered for a terminal when stdout is a TTY; plain text when piped. */
export function renderTerminal(d: Diagnosis, options: {tty: boolean; showSuppressed: boolean}): string {
  return options.tty ? renderMarkdownForTerminal(renderMarkdown(d, options)) : renderText(d, options)
}

export function renderMarkdownForTerminal(markdown: string): string {
  const marked = new Marked()
  marked.use(markedTerminal({reflowText: false, showSectionPrefix: false, width: process.stdout.columns || 100}))
  return marked.parse(markdown, {async: false}) as string
}
