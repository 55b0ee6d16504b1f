import type {ForwardView} from '../src/derive/index.js'
import {DATAPATH} from './datapath.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

/** The hook script libvirt runs for a guest: the qemu hook (or a qemu.d script), which also reads the JSON configuration. */
function scriptOf(e: ForwardView): string | undefined {
  const scripts = e.hookFiles.filter((f) => !f.endsWith('.json'))
  return scripts.find((f) => /\/qemu(\.d\/.*)?$/.test(f)) ?? (e.hookFiles.some((f) => f.endsWith('.json')) ? '/etc/libvirt/hooks/qemu' : undefined)
}

export default defineRule<ForwardView>({
  id: 'hook-rules-lost',
  kind: 'forward',
  severity: 'high',
  // Without the hooks read (a recording made before the probe existed), the rule is not checked: never a pass.
  needs: [...DATAPATH, probes.libvirtHooks],
  known: ['hookRulesMissing'],
  appliesTo: (e) => e.hookFiles.length > 0,
  conditions: (c) => c.all(c.nonEmpty('hookRulesMissing'), c.any(c.ne('targetGuest', null), c.eq('hookObjectRunning', true))),
  title: (e) => text`The rules ${e.hookFiles} adds for ${e.context.domain} are missing from the ruleset`,
  summary: (e) =>
    text`libvirt ran the hook when ${e.context.domain} started and the hook added its forward, but those rules are gone now while the guest runs: a firewall reload or restart (firewall-cmd --reload, ufw reload, iptables-restore, a libvirtd or nftables restart) replaced the ruleset after the hook ran. libvirt runs the hook again only at the guest's next start or libvirtd's next start.`,
  evidence: (e) => [line`missing: ${e.hookRulesMissing ?? []}`, ...e.flows],
  // libvirt runs a qemu hook with the domain XML on stdin; "reconnect" is what libvirtd itself sends a running guest's hook on restart.
  fix: (e) => {
    const guest = e.targetGuest ?? e.hookObject
    const script = scriptOf(e)
    return script ? [cmd`virsh dumpxml ${guest} | ${script} ${guest} reconnect begin -`] : []
  },
  note: () => [
    'the hook runs again on "reconnect" as libvirtd would run it; to keep the rules across firewall reloads, have the reload run the hook too (or keep the forward in the firewall manager\'s own configuration)',
  ],
  explains: [{rule: 'port-forward-blocked', via: 'domain'}],
})
