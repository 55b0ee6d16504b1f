import {shellQuote} from '../src/lib/shell.js'
import {DATAPATH_REQUIRES} from './datapath.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'hook-rules-lost',
  severity: 'high',
  scope: 'forward',
  appliesTo: (e) => Array.isArray(e.hookFiles) && e.hookFiles.length > 0,
  title: 'The rules {hookFiles} adds for {context.domain} are missing from the ruleset',
  requires: [...DATAPATH_REQUIRES, 'libvirt-hooks'],
  conditions: {
    all: [
      {fact: 'entity', path: 'hookRulesMissing', operator: 'nonEmpty', value: true},
      {any: [{fact: 'entity', path: 'targetGuest', operator: 'notEqual', value: null}, {fact: 'entity', path: 'hookObjectRunning', operator: 'equal', value: true}]},
    ],
  },
  derive: (e) => {
    const guest = (e.targetGuest ?? e.hookObject) as string | null
    const files = (e.hookFiles as string[]).filter((f) => !f.endsWith('.json'))
    // libvirt runs a qemu hook with the domain XML on stdin; "reconnect" is what libvirtd itself sends a running guest's hook on restart.
    const script = files.find((f) => /\/qemu(\.d\/.*)?$/.test(f)) ?? ((e.hookFiles as string[]).some((f) => f.endsWith('.json')) ? '/etc/libvirt/hooks/qemu' : undefined)
    return {rerun: guest && script ? [`virsh dumpxml ${shellQuote(guest)} | ${shellQuote(script)} ${shellQuote(guest)} reconnect begin -`] : []}
  },
  summary: 'libvirt ran the hook when {context.domain} started and the hook added its forward, but those rules are gone now while the guest runs: a firewall reload or restart (firewall-cmd --reload, ufw reload, iptables-restore, a libvirtd or nftables restart) replaced the ruleset after the hook ran. libvirt runs the hook again only at the guest\'s next start or libvirtd\'s next start.',
  evidence: ['missing: {hookRulesMissing}', '{flows}'],
  fix: ['{rerun}'],
  note: ['the hook runs again on "reconnect" as libvirtd would run it; to keep the rules across firewall reloads, have the reload run the hook too (or keep the forward in the firewall manager\'s own configuration)'],
  explains: [{rule: 'port-forward-blocked', via: 'domain'}],
}
