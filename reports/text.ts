import type {Diagnosis} from '../src/result/diagnosis.js'
import {PLAIN} from './style.js'
import {renderTerminal} from './terminal.js'

/** Plain text for pipes and logs: the terminal report's structure, without colour, lines kept whole. */
export function renderText(d: Diagnosis, options: {showSuppressed?: boolean; checks?: boolean; width?: number} = {}): string {
  return renderTerminal(d, {style: PLAIN, width: options.width ?? Number.POSITIVE_INFINITY, showSuppressed: options.showSuppressed, checks: options.checks})
}
