import {Flags} from '@oclif/core'
import {renderTable} from '../../../reports/layout.js'
import {outputWidth} from '../../../reports/style.js'
import {KvmdoctorCommand} from '../../cli/command.js'
import {EVERY_RULE, ruleHeadline} from '../../core/rule-docs.js'

export default class Rules extends KvmdoctorCommand {
  static summary = 'List the failure patterns kvmdoctor checks'
  static description = 'Every rule with its id (stable: use it in ignore files and CI), severity, the entity it is checked on, and what it means. `kvmdoctor rules show ID` prints a rule\'s full doc.'
  static enableJsonFlag = true
  static flags = {
    wide: Flags.boolean({summary: 'Show every column, however wide (on a terminal the table fits its width; piped, it is whole).', default: false}),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Rules)
    const rows = EVERY_RULE.map((r) => ({
      id: r.id,
      ...(r.aliases.length > 0 ? {aliases: r.aliases} : {}),
      severity: r.escalate ? `${r.severity}/${r.escalate.to}` : r.severity,
      scope: r.kinds.join('|'),
      title: ruleHeadline(r.id),
      requires: [...r.needs, ...r.needsAny.map((g) => g.join('|'))],
      explains: r.explains.map((e) => e.rule),
    }))
    if (this.jsonEnabled()) return rows
    const columns = [
      {header: 'ID', priority: 1},
      {header: 'SEVERITY', priority: 2},
      {header: 'SCOPE', priority: 3},
      {header: 'MEANING', priority: 1, min: 24},
    ]
    const width = outputWidth()
    const table = renderTable(columns, rows.map((r) => [r.id, r.severity, r.scope, r.title]), {width, wide: flags.wide})
    this.log(table.lines.join('\n'))
    if (table.hidden.length > 0) this.log(`note: ${table.hidden.join(', ')} left out to fit ${width} columns; --wide shows every column`)
    return undefined
  }
}
