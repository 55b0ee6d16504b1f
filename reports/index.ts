import type {Diagnosis} from '../src/core/diagnose.js'
import {renderJson} from './json.js'
import {renderJunit} from './junit.js'
import {renderMarkdown} from './markdown.js'
import {renderPrometheus} from './prometheus.js'
import {renderSarif} from './sarif.js'
import {renderTerminal} from './terminal.js'

export const FORMATS = ['text', 'md', 'json', 'sarif', 'junit', 'prometheus'] as const
export type Format = (typeof FORMATS)[number]

export interface RenderOptions {
  /** Rendered Markdown for a terminal; plain text otherwise. */
  tty: boolean
  showSuppressed: boolean
}

export function render(d: Diagnosis, format: Format, options: RenderOptions): string {
  switch (format) {
    case 'json':
      return renderJson(d)
    case 'md':
      return renderMarkdown(d, options)
    case 'sarif':
      return renderSarif(d)
    case 'junit':
      return renderJunit(d)
    case 'prometheus':
      return renderPrometheus(d)
    case 'text':
      return renderTerminal(d, options)
  }
}
