import {Args, Flags} from '@oclif/core'
import {KvmdoctorCommand} from '../cli/command.js'
import {userConfigDir} from '../core/config-file.js'
import {runDiagnose} from '../core/diagnose-service.js'
import {EXIT, UserError} from '../core/errors.js'
import {EVERY_RULE} from '../core/rule-docs.js'
import {applyFix, interactiveStep, judgeFix, selectFinding} from '../core/fix-service.js'
import {fixHostOf} from '../core/fix-safety.js'
import {findingKey} from '../result/findings.js'
import {renderStep, renderSteps} from '../lib/fix.js'
import {visibleControls} from '../core/output.js'

export default class Fix extends KvmdoctorCommand {
  static summary = "Print a finding's fix, or with --yes apply it to this host and check that it worked"
  static description = `The one kvmdoctor command that changes the host, and only with --yes. It diagnoses this host, finds FINDING (on ENTITY: a name or KIND:NAME, needed when the finding is on several), and prints its fix lines exactly as diagnose does. With --yes it first judges every step against the safety contract on this host (refused, exit 2, nothing changed, when a step is not known to be safe), then runs them in order without a shell (each line's words as printed), stops at the first that fails (saying what ran and what did not), diagnoses again and exits 0 only when the finding is gone and nothing new at or above its severity appeared.

Every fix follows the safety contract (README): no firewall manager's catch-all, chain policy or libvirt rule is deleted; a step that cuts off running guests names them and is followed by the steps that re-attach them; checks are never run.

Refuses snapshots and bundles (--from): a recording is not the host to change. Exit codes: 0 fixed (or, without --yes, nothing to fix), 1 the finding is still there or something new appeared (or, without --yes, it is present), 2 usage error, 3 kvmdoctor failed.`

  static examples = ['<%= config.bin %> fix dns-port-conflict@default', '<%= config.bin %> fix libvirt-network-inactive@network:default --yes']

  static args = {finding: Args.string({description: 'FINDING[@ENTITY]: a finding id as diagnose prints it, and the entity it is on', required: true})}

  static flags = {
    yes: Flags.boolean({summary: 'Run the fix lines on this host (without it nothing is changed).', default: false}),
    'dry-run': Flags.boolean({summary: 'Only print the fix lines (the default; wins over --yes).', default: false}),
    from: Flags.string({summary: 'Refused: fix works on this host only (diagnose --from prints a recording\'s fixes).', hidden: true}),
    timeout: Flags.integer({summary: 'Seconds each probe command may run before it is killed.', default: 5, min: 1, max: 600}),
    connect: Flags.string({char: 'c', summary: 'libvirt URI.', default: 'qemu:///system'}),
    internet: Flags.string({summary: 'What stands for the internet in the egress flows (ADDR[:PORT][/proto], as diagnose takes it).'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Fix)
    try {
      if (flags.from !== undefined) throw new UserError(`kvmdoctor fix changes this host: it does not work on a snapshot or bundle (${flags.from}). Print a recording's fix lines with: kvmdoctor diagnose --from ${flags.from}`)
      const id = args.finding.split('@', 1)[0]
      if (!EVERY_RULE.some((r) => r.id === id || r.aliases.includes(id))) throw new UserError(`${visibleControls(id)} is not a finding kvmdoctor knows (kvmdoctor rules lists them)`)
      const diagnose = () =>
        runDiagnose({timeoutMs: flags.timeout * 1000, options: {active: false, libvirtUri: flags.connect, ...(flags.internet ? {internet: flags.internet} : {})}, version: this.config.version}, {now: () => new Date(), configDir: userConfigDir()})
      const before = await diagnose()
      const finding = selectFinding(before.findings, args.finding)
      if (!finding) {
        this.log(visibleControls(`kvmdoctor: ${args.finding} is not found on this host: nothing to fix`))
        process.exitCode = EXIT.clean
        return
      }
      const key = visibleControls(findingKey(finding))
      if (finding.fixSteps.length === 0) throw new UserError(`${key} has no fix lines to run${finding.note?.length ? `: ${visibleControls(finding.note[0])}` : ''}`)
      for (const line of renderSteps(finding.fixSteps)) this.log(line)
      for (const line of finding.check ?? []) this.log(`# check: ${line}`)
      if (!flags.yes || flags['dry-run']) {
        process.exitCode = EXIT.findings
        return
      }
      const interactive = finding.fixSteps.filter(interactiveStep)
      if (interactive.length > 0) throw new UserError(`${key}: its fix opens an editor or a console (${interactive.map((s) => ('argv' in s ? s.argv.slice(0, 2).join(' ') : '')).join(', ')}): run the lines yourself`)
      // The safety contract, judged on this host's own rulesets and guests before anything runs.
      const host = fixHostOf(before.facts)
      const outcome = await applyFix(finding, host, {
        start: () => this.logToStderr(`kvmdoctor: running the ${finding.fixSteps.length} step${finding.fixSteps.length === 1 ? '' : 's'} of ${key} printed above, in order, stopping at the first that fails`),
        step: (step) => this.logToStderr(`kvmdoctor: ${step.ok ? 'ran' : 'FAILED'}: ${visibleControls(step.line)}${step.ok || !step.detail ? '' : `: ${visibleControls(step.detail)}`}`),
      })
      if (outcome.refused) {
        const n = outcome.refused.length
        throw new UserError(
          `${key}: refused, nothing was changed: ${n === 1 ? 'a step is' : `${n} problems with its steps are`} not known to be safe on this host (run the lines yourself if you have judged them):\n${outcome.refused.map((p) => `  step ${p.step + 1}: ${visibleControls(p.line)}: ${visibleControls(p.why)}`).join('\n')}`,
        )
      }
      if (outcome.notRun.length > 0 || outcome.ran.some((r) => !r.ok)) {
        const at = outcome.ran.length
        this.logToStderr(
          `kvmdoctor: stopped at step ${at} of ${finding.fixSteps.length}: ${at === 1 ? 'no step before it ran' : `steps 1-${at - 1} ran`}${outcome.notRun.length > 0 ? `; not run:\n${outcome.notRun.map((x) => `  ${visibleControls(renderStep(x))}`).join('\n')}` : ''}`,
        )
        process.exitCode = EXIT.findings
        return
      }
      const after = await diagnose()
      const {cleared, appeared} = judgeFix(before.findings, after.findings, finding)
      if (!cleared) this.logToStderr(`kvmdoctor: ${key} is still found after the fix`)
      for (const f of appeared) this.logToStderr(`kvmdoctor: new after the fix: ${visibleControls(findingKey(f))} [${f.severity}] ${visibleControls(f.title)}`)
      if (cleared && appeared.length === 0) this.logToStderr(`kvmdoctor: fixed: ${key} is gone and nothing new at or above ${finding.severity} appeared`)
      process.exitCode = cleared && appeared.length === 0 ? EXIT.clean : EXIT.findings
    } catch (error) {
      this.reportFailure(error)
    }
  }
}
