import type {Diagnosis} from '../src/core/diagnose.js'
import type {GateDecision} from '../src/core/gate.js'
import {renderJson} from './json.js'
import {renderJunit} from './junit.js'
import {renderMarkdown} from './markdown.js'
import {renderPrometheus} from './prometheus.js'
import {renderSarif} from './sarif.js'
import {renderText} from './text.js'

export const FORMATS = ['text', 'md', 'json', 'sarif', 'junit', 'prometheus'] as const
export type Format = (typeof FORMATS)[number]

export interface RenderOptions {
  /** Rendered Markdown for a terminal; plain text otherwise. */
  tty: boolean
  showSuppressed: boolean
  /** The --fail-on decision, for the formats that carry it (json). */
  gate?: GateDecision
}

/** marked and marked-terminal load only when a terminal will show the result. */
export async function render(d: Diagnosis, format: Format, options: RenderOptions): Promise<string> {
  switch (format) {
    case 'json':
      return renderJson(d, options.gate)
    case 'md':
      return renderMarkdown(d, options)
    case 'sarif':
      return renderSarif(d)
    case 'junit':
      return renderJunit(d)
    case 'prometheus':
      return renderPrometheus(d)
    case 'text':
      if (!options.tty) return renderText(d, options)
      return (await import('./terminal.js')).renderTerminal(d, options)
  }
}
