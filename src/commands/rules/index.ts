import {KvmdoctorCommand} from '../../core/command.js'
import {scopesOf} from '../../core/engine.js'
import {EVERY_RULE, ruleHeadline} from '../../core/rule-docs.js'

export default class Rules extends KvmdoctorCommand {
  static summary = 'List the failure patterns kvmdoctor checks'
  static description = 'Every rule with its id (stable: use it in ignore files and CI), severity, the entity it is checked on, and what it means. `kvmdoctor rules show ID` prints a rule\'s full doc.'
  static enableJsonFlag = true

  async run(): Promise<unknown> {
    await this.parse(Rules)
    const rows = EVERY_RULE.map((r) => ({
      id: r.id,
      severity: r.escalate ? `${r.severity}/${r.escalate.severity}` : r.severity,
      scope: scopesOf(r).join('|'),
      title: ruleHeadline(r.id),
      requires: [...r.requires, ...(r.requiresAny ?? []).map((g) => g.join('|'))],
      explains: (r.explains ?? []).map((e) => e.rule),
    }))
    if (this.jsonEnabled()) return rows
    const idWidth = Math.max(...rows.map((r) => r.id.length))
    const sevWidth = Math.max(...rows.map((r) => r.severity.length))
    const scopeWidth = Math.max(...rows.map((r) => r.scope.length))
    this.log(`${'ID'.padEnd(idWidth)}  ${'SEVERITY'.padEnd(sevWidth)}  ${'SCOPE'.padEnd(scopeWidth)}  MEANING`)
    for (const r of rows) this.log(`${r.id.padEnd(idWidth)}  ${r.severity.padEnd(sevWidth)}  ${r.scope.padEnd(scopeWidth)}  ${r.title}`)
    return undefined
  }
}
