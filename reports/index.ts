import type {Diagnosis} from '../src/result/diagnosis.js'
import type {GateDecision} from '../src/result/diagnosis.js'
import {renderJson} from './json.js'
import type {ColorLevel} from './style.js'

export const FORMATS = ['text', 'md', 'html', 'json', 'sarif', 'junit', 'prometheus'] as const
export type Format = (typeof FORMATS)[number]

export interface RenderOptions {
  /** Colour for text (0: none). */
  color?: ColorLevel
  /** Columns text is wrapped to; Infinity (the default) keeps lines whole. */
  width?: number
  showSuppressed: boolean
  /** The --fail-on decision, for the formats that carry it (json). */
  gate?: GateDecision
  /** Text: the checklist instead of the findings' details. */
  checks?: boolean
  /** SARIF: where the rule docs are published (https), for helpUri. */
  docsUrl?: string
}

/** A renderer (and the libraries it uses: layout, tables, colour, XML) loads only when its format is asked for. */
export async function render(d: Diagnosis, format: Format, options: RenderOptions): Promise<string> {
  switch (format) {
    case 'json':
      return renderJson(d, options.gate)
    case 'md':
      return (await import('./markdown.js')).renderMarkdown(d, options)
    case 'html':
      return (await import('./html.js')).renderHtml(d, options)
    case 'sarif':
      return (await import('./sarif.js')).renderSarif(d, options.docsUrl)
    case 'junit':
      return (await import('./junit.js')).renderJunit(d)
    case 'prometheus':
      return (await import('./prometheus.js')).renderPrometheus(d)
    case 'text': {
      const [{renderTerminal}, {makeStyle}] = await Promise.all([import('./terminal.js'), import('./style.js')])
      return renderTerminal(d, {style: makeStyle(options.color ?? 0), width: options.width, showSuppressed: options.showSuppressed, checks: options.checks})
    }
  }
}
