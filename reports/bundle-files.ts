/** The reports a support bundle carries beside its snapshot: what `bundle` hands the bundle writer. */
import type {BundleReport} from '../src/result/diagnosis.js'
import type {Diagnosis} from '../src/result/diagnosis.js'
import {renderHtml} from './html.js'
import {toJsonReport} from './json.js'
import {renderMarkdown} from './markdown.js'

/**
 * The reports of a diagnosis, made safe as every report is: `shown` gives the diagnosis as a format
 * may show it (scrubbed; in Markdown and HTML, host strings cannot start a line).
 */
export function bundleReports(d: Diagnosis, shown: (format: 'md' | 'html') => Diagnosis): BundleReport[] {
  return [
    {file: 'findings.json', json: toJsonReport(d)},
    {file: 'report.md', text: renderMarkdown(shown('md'))},
    {file: 'report.html', text: renderHtml(shown('html'))},
  ]
}
