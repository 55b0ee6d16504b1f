import type {Diagnosis} from '../src/core/diagnose.js'
import type {GateDecision} from '../src/core/gate.js'
import {renderJson} from './json.js'
import {renderJunit} from './junit.js'
import {renderMarkdown} from './markdown.js'
import {renderPrometheus} from './prometheus.js'
import {renderSarif} from './sarif.js'
import {type ColorLevel, makeStyle} from './style.js'
import {renderTerminal} from './terminal.js'

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
}

/** The HTML report (and its layout library) loads only when asked for. */
export async function render(d: Diagnosis, format: Format, options: RenderOptions): Promise<string> {
  switch (format) {
    case 'json':
      return renderJson(d, options.gate)
    case 'md':
      return renderMarkdown(d, options)
    case 'html':
      return (await import('./html.js')).renderHtml(d, options)
    case 'sarif':
      return renderSarif(d)
    case 'junit':
      return renderJunit(d)
    case 'prometheus':
      return renderPrometheus(d)
    case 'text':
      return renderTerminal(d, {style: makeStyle(options.color ?? 0), width: options.width, showSuppressed: options.showSuppressed, checks: options.checks})
  }
}
