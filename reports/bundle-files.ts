/** The reports a support bundle carries beside its snapshot: what `bundle` hands the bundle writer. */
import type {BundleReport} from '../src/core/bundle.js'
import type {Diagnosis} from '../src/core/diagnose.js'
import {reportable} from '../src/core/output.js'
import {renderHtml} from './html.js'
import {toJsonReport} from './json.js'
import {renderMarkdown} from './markdown.js'

/** The reports of a diagnosis, made safe as every report is (scrubbed; in Markdown and HTML, host strings cannot start a line). */
export function bundleReports(d: Diagnosis): BundleReport[] {
  return [
    {file: 'findings.json', json: toJsonReport(d)},
    {file: 'report.md', text: renderMarkdown(reportable(d, 'md'))},
    {file: 'report.html', text: renderHtml(reportable(d, 'html'))},
  ]
}
