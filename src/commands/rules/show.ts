import {Args} from '@oclif/core'
import {colorLevel} from '../../../reports/style.js'
import {KvmdoctorCommand} from '../../cli/command.js'
import {findRule, ruleDoc, ruleSpecMarkdown} from '../../core/rule-docs.js'

export default class RulesShow extends KvmdoctorCommand {
  static summary = "Print a rule's doc (what it means, the facts it reads, the fix, false positives) and its conditions as kvmdoctor evaluates them"
  static args = {id: Args.string({required: true, description: 'rule id (or an id it was known by), e.g. ip-forward-disabled'})}
  static examples = ['<%= config.bin %> rules show iptables-forward-drop', '<%= config.bin %> rules show forward-policy-drop   # an id a rule was known by']

  async run(): Promise<void> {
    const {args} = await this.parse(RulesShow)
    // An unknown id is a UserError: exit 2 through the base command's catch.
    const rule = findRule(args.id)
    const doc = ruleDoc(rule.id) + ruleSpecMarkdown(rule)
    // Rendered (coloured) on a terminal unless NO_COLOR says otherwise; the Markdown itself elsewhere.
    this.log(colorLevel() > 0 ? (await import('../../../reports/markdown-terminal.js')).renderMarkdownForTerminal(doc) : doc)
  }
}
