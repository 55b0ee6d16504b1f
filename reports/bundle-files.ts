/** The reports a support bundle carries beside its snapshot: what `bundle` hands the bundle writer. */
import type {BundleReport} from '../src/result/diagnosis.js'
import type {Diagnosis} from '../src/result/diagnosis.js'
import {renderHtml} from './html.js'
import {toJsonReport} from './json.js'
import {renderMarkdown} from './markdown.js'

export function bundleReports(d: Diagnosis): BundleReport[] {
  return [
    {file: 'findings.json', json: toJsonReport(d)},
    {file: 'report.md', text: renderMarkdown(d)},
    {file: 'report.html', text: renderHtml(d)},
  ]
}
