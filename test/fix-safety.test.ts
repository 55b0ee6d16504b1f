/**
 * Fixes are data and safe (issues 23 and 24). The rendered text of every step, parsed by a real
 * shell, is the step's argv (hostile names included); and every fix kvmdoctor prints on the
 * recordings keeps the safety contract of the README.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../probes/libvirt.js'
import type {ProcessFacts} from '../probes/processes.js'
import type {ServiceFacts} from '../probes/services.js'
import {cmd} from '../rules/kit.js'
import type {Finding} from '../src/result/findings.js'
import {type FixStep, renderStep, renderSteps} from '../src/lib/fix.js'
import {ROOT, alter, factsOf, fireAll} from './helpers.js'

const HOSTILE = [
  'two words',
  "it's",
  'say "hi"',
  '$(touch PWNED)',
  '`touch PWNED`',
  'a;touch PWNED',
  'line\ntouch PWNED',
  '-rf',
  '--all',
  'tab\there',
  '~root',
  '*',
  '{a,b}',
  'back\\slash',
  '#comment',
  'a|b&c>d',
  "'$'\\x27",
  '',
]

const SEPARATOR = '\u0001'

/** The argvs bash reads from rendered lines (`set -- LINE` takes the words without running them). */
function bashArgvs(lines: string[], cwd: string): string[][] {
  const script = lines.map((l) => `set -- ${l}\nprintf '%s\\0' "$@"; printf '${SEPARATOR}'`).join('\n')
  const run = spawnSync('bash', ['--norc', '--noprofile', '-c', script], {cwd, encoding: 'utf8', timeout: 60_000})
  expect(run.stderr).toBe('')
  return run.stdout
    .split(SEPARATOR)
    .slice(0, -1)
    .map((block) => block.split('\u0000').slice(0, -1))
}

/** Every command line a step renders to, with the argv it stands for (a pipeline's commands one by one). */
const commandsOf = (step: FixStep): {line: string; argv: string[]}[] =>
  'argv' in step ? [{line: renderStep(step), argv: step.argv}] : 'pipeline' in step ? step.pipeline.map((argv) => ({line: renderStep({argv}), argv})) : []

function expectPastesAsArgv(steps: FixStep[]) {
  const cwd = mkdtempSync(join(tmpdir(), 'kvmdoctor-fix-'))
  try {
    const commands = steps.flatMap(commandsOf)
    expect(bashArgvs(commands.map((c) => c.line), cwd)).toEqual(commands.map((c) => c.argv))
    for (const step of steps) {
      expect(renderStep(step)).not.toMatch(/[\n\r]/)
      if (!('write' in step)) continue
      // The printf line, written to a file here: the content comes back byte for byte.
      const target = join(cwd, 'written')
      const line = renderStep({write: {...step.write, path: target, append: false}})
      const run = spawnSync('bash', ['--norc', '--noprofile', '-c', line], {cwd, encoding: 'utf8', timeout: 60_000})
      expect(run.status).toBe(0)
      expect(readFileSync(target, 'utf8')).toBe(step.write.content)
    }
    expect(existsSync(join(cwd, 'PWNED'))).toBe(false)
  } finally {
    rmSync(cwd, {recursive: true, force: true})
  }
}

describe('fix lines are argvs, quoted for a POSIX shell', () => {
  it('a hostile value is one word wherever it stands, and pastes back as the same argv', () => {
    const steps = HOSTILE.flatMap((h) => [
      ...cmd`virsh net-start ${h}`!,
      ...cmd`ip link set ${h} master ${h} up`!,
      ...cmd`firewall-cmd --zone=libvirt --change-interface=${h}`!,
      ...cmd`ip route del ${['default', 'via', h]} metric ${7}`!,
      {write: {path: '/etc/sysctl.d/90-kvmdoctor.conf', content: `net.ipv4.conf.${h}.rp_filter = 2\n`, append: true}},
    ])
    expect(steps.filter((s) => 'argv' in s && s.argv.includes('$(touch PWNED)'))).toHaveLength(3)
    expect(cmd`firewall-cmd --zone=libvirt --change-interface=${'a b'}`).toEqual([{argv: ['firewall-cmd', '--zone=libvirt', '--change-interface=a b']}])
    expectPastesAsArgv(steps)
  })

  it('literal text splits into words, pipelines and sequences; a missing value leaves the line out', () => {
    expect(cmd`bridge fdb show | grep -i ${'52:54'}`).toEqual([{pipeline: [['bridge', 'fdb', 'show'], ['grep', '-i', '52:54']]}])
    expect(cmd`modprobe x && echo ${'a b'}`).toEqual([{argv: ['modprobe', 'x']}, {argv: ['echo', 'a b']}])
    expect(cmd`nft insert rule ip t c udp dport '{ 53, 67 }' accept`).toEqual([{argv: ['nft', 'insert', 'rule', 'ip', 't', 'c', 'udp', 'dport', '{ 53, 67 }', 'accept']}])
    expect(cmd`virsh net-start ${null}`).toBeUndefined()
    expect(cmd`ip ${[]} rule del priority ${5}`).toEqual([{argv: ['ip', 'rule', 'del', 'priority', '5']}])
  })

  it('plain words stay bare; a control character is written $-quoted, never as a raw line break', () => {
    expect(renderSteps([{argv: ['virsh', 'net-start', 'default']}])).toEqual(['virsh net-start default'])
    expect(renderStep({argv: ['echo', 'a\nb']})).toBe("echo $'a\\x0ab'")
    expect(renderSteps([{argv: ['virsh', 'net-destroy', 'n'], disrupts: ['x\ny']}])[0]).toBe("# disrupts running guests $'x\\x0ay' until the steps below re-attach them")
    expect(() => renderStep({argv: ['a\u0000b']})).toThrow(/NUL/)
  })

  it("every rule's fix, with hostile network and guest names, pastes as its argv", async () => {
    let seen = 0
    for (const fixture of ['network-inactive', 'dns-port-conflict', 'dnsmasq-killed', 'mac-duplicate', 'nat-pinned-missing-dev', 'subnet-overlap', 'dhcp-range-exhausted']) {
      const hostile = alter<LibvirtFacts>(await factsOf(fixture), 'libvirt', (l) => {
        const renamed = new Map(l.networks.map((n, i) => [n.name, `${n.name} $(touch PWNED);\`id\`'"${i}\nx`]))
        for (const n of l.networks) n.name = renamed.get(n.name)!
        for (const d of l.domains) {
          d.name = `-${d.name}; rm -rf "/"`
          for (const i of d.interfaces) if (i.type === 'network' && i.source) i.source = renamed.get(i.source) ?? i.source
        }
      })
      const {evaluation} = await fireAll(hostile)
      const steps = evaluation.findings.flatMap((f) => [...f.fixSteps, ...(f.checkSteps ?? [])])
      seen += steps.filter((s) => JSON.stringify(s).includes('PWNED') || JSON.stringify(s).includes('rm -rf')).length
      expectPastesAsArgv(steps)
    }
    expect(seen).toBeGreaterThan(5)
  })
})

describe('fixes follow the host', () => {
  it("under systemd a killed dnsmasq is respawned by restarting libvirt's network daemon, without it as libvirt starts it", async () => {
    const facts = await factsOf('dnsmasq-killed')
    const fixOf = async (f: typeof facts) => (await fireAll(f)).evaluation.findings.find((x) => x.id === 'dhcp-server-not-running')?.fix
    // Without systemd: the network restarted and its running guests re-plugged (dnsmasq started by hand with libvirt's
    // command line exits at once: its leases helper lacks libvirt's environment, the lab's fix proof showed).
    const rendered = (await fixOf(facts)) ?? []
    // Labelled with the guests it cuts off, in the same block.
    expect(rendered[0]).toMatch(/^# disrupts running guests .*kdlab-web01/)
    const plain = rendered.filter((l) => !l.startsWith('#'))
    expect(plain.slice(0, 2)).toEqual(['virsh net-destroy default', 'virsh net-start default'])
    expect(plain.length).toBeGreaterThan(2)
    for (const replug of plain.slice(2)) expect(replug).toMatch(/^ip link set \S+ master virbr0 up$/)
    const systemd = alter<ServiceFacts>(facts, 'services', (sv) => {
      sv.systemd = true
    })
    expect(await fixOf(systemd)).toEqual(['systemctl restart libvirtd'])
    const modular = alter<ProcessFacts>(systemd, 'processes', (p) => {
      p.processes.push({pid: 4242, args: '/usr/sbin/virtnetworkd --timeout 120'})
    })
    expect(await fixOf(modular)).toEqual(['systemctl restart virtnetworkd'])
  })
})

/** Every finding of every recording, with the trace's undo of each flow's deciding element. */
async function everyFix(): Promise<{fixture: string; finding: Finding; undo: FixStep[][]}[]> {
  const out: {fixture: string; finding: Finding; undo: FixStep[][]}[] = []
  const {diagnose} = await import('../src/core/diagnose.js')
  const {ReplayRunner} = await import('../src/core/snapshot.js')
  // The lab's snapshots (sosreport trees have no manifest: test/sos reads them).
  for (const fixture of readdirSync(join(ROOT, 'fixtures')).filter((f) => existsSync(join(ROOT, 'fixtures', f, 'manifest.json')))) {
    const runner = await ReplayRunner.open(join(ROOT, 'fixtures', fixture))
    const d = await diagnose({runner, options: runner.manifest.options ?? {active: false, libvirtUri: 'qemu:///system'}, version: 'test', now: new Date('2026-01-01T00:00:00Z')})
    const undo = d.flows.flatMap((f) => f.hops.flatMap((h) => (h.element ? [h.element.undoSteps] : [])))
    for (const finding of d.findings) out.push({fixture, finding, undo})
  }
  return out
}

const words = (s: FixStep) => ('argv' in s ? s.argv : 'pipeline' in s ? s.pipeline.flat() : [])

/** What widens the host's exposure or removes what a manager or libvirt owns. */
function opens(step: FixStep): string | undefined {
  const w = words(step)
  const tool = w[0] ?? ''
  if (/^ip6?tables/.test(tool)) {
    if (w.some((x) => ['-P', '--policy', '-F', '--flush', '-X', '--delete-chain'].includes(x))) return 'changes a policy or flushes'
    if (w.some((x) => ['-D', '--delete'].includes(x)) && w.some((x) => /^(LIBVIRT_|ufw6?-|DOCKER|IN_|FWD|OUT_)/.test(x))) return "deletes a manager's or libvirt's rule"
  }
  if (tool === 'nft' && (w.some((x) => /policy\s+accept/.test(x)) || ['flush', 'delete'].includes(w[1] ?? '') && w.some((x) => /firewalld|libvirt|ufw/.test(x)))) return "opens a policy or deletes a manager's rule"
  if (tool === 'nft' && ['flush', 'delete'].includes(w[1] ?? '') && w[2] === 'ruleset') return 'flushes the ruleset'
  if (tool === 'firewall-cmd' && w.some((x) => /^--(remove|set-target=ACCEPT|panic-off)/.test(x))) return 'removes firewalld configuration'
  if (tool === 'ufw' && ['delete', 'disable', 'reset'].includes(w[1] ?? '')) return 'removes ufw configuration'
  if (tool === 'sysctl' && w.some((x) => /bridge-nf-call-iptables=0/.test(x))) return undefined
  return undefined
}

/** Commands that only look: they are `check:` lines, never `fix:`. */
function onlyLooks(step: FixStep): boolean {
  const w = words(step)
  const [tool, sub] = [w[0], w[1]]
  if ('pipeline' in step) return true
  if (tool === 'kvmdoctor' || tool === 'journalctl' || tool === 'cat') return true
  if (tool === 'virsh' && /^(net-dhcp-leases|console|domif-getlink|dumpxml|net-dumpxml|net-list|list|domiflist)$/.test(sub ?? '')) return true
  if (tool === 'nft' && sub === 'list') return true
  if (tool === 'nft' && sub === '-a' && w[2] === 'list') return true
  if (/^ip6?tables/.test(tool ?? '') && w.some((x) => ['-L', '--list', '-S', '--list-rules'].includes(x))) return true
  if (/save$/.test(tool ?? '') || (tool === 'conntrack' && sub === '-L')) return true
  return false
}

describe('the safety contract holds for every fix on every recording', async () => {
  const all = await everyFix()

  it('the recordings give fixes to judge', () => {
    expect(all.filter((x) => x.finding.fixSteps.length > 0).length).toBeGreaterThan(40)
  })

  it("never opens the host: no policy, flush, catch-all, manager's or libvirt's rule removed (fixes and the trace's undo)", () => {
    const bad = all.flatMap(({fixture, finding, undo}) =>
      [...finding.fixSteps, ...undo.flat()].flatMap((s) => {
        const why = opens(s)
        return why ? [`${fixture} ${finding.id}: ${renderStep(s)}: ${why}`] : []
      }),
    )
    expect([...new Set(bad)]).toEqual([])
  })

  it('never hard-stops a guest; a step that cuts guests off names them and is followed by the steps that re-attach them', () => {
    for (const {fixture, finding} of all) {
      const steps = finding.fixSteps
      for (const [i, s] of steps.entries()) {
        const w = words(s)
        expect(w[0] === 'virsh' && ['destroy', 'reset', 'shutdown', 'reboot'].includes(w[1]), `${fixture} ${finding.id}: ${renderStep(s)}`).toBe(false)
        if (w[0] === 'virsh' && w[1] === 'net-destroy') {
          const taps = steps.slice(i + 1).filter((x) => words(x).join(' ').includes(' master '))
          expect(steps.slice(i + 1).some((x) => words(x)[1] === 'net-start' && words(x)[2] === w[2]), `${fixture} ${finding.id}: net-start after net-destroy`).toBe(true)
          if (finding.blastRadius > 0) expect('argv' in s && s.disrupts, `${fixture} ${finding.id}: names the guests`).toBeTruthy()
          if (finding.blastRadius > 0) expect(taps.length, `${fixture} ${finding.id}: re-attaches`).toBeGreaterThan(0)
        }
        if (w[0] === 'virsh' && w[1] === 'detach-interface') {
          expect('argv' in s && s.disrupts, `${fixture} ${finding.id}: names the guest`).toEqual([w[2]])
          expect(steps.slice(i + 1).some((x) => words(x)[1] === 'attach-interface' && words(x)[2] === w[2])).toBe(true)
        }
      }
    }
  })

  it('a network is started only after what stops it is gone (the port freed first)', () => {
    const conflicts = all.filter((x) => x.finding.id === 'dns-port-conflict')
    expect(conflicts.length).toBeGreaterThan(0)
    for (const {finding} of conflicts) {
      const at = (tool: string) => finding.fixSteps.findIndex((s) => words(s)[0] === tool || words(s)[1] === tool)
      expect(at('kill')).toBeGreaterThanOrEqual(0)
      expect(at('kill')).toBeLessThan(at('net-start'))
    }
  })

  it('checks are check: lines, never fix: lines; no placeholder, no prose, no line break in a command', () => {
    for (const {fixture, finding} of all) {
      for (const s of finding.fixSteps) {
        expect(onlyLooks(s), `${fixture} ${finding.id}: ${renderStep(s)} only looks`).toBe(false)
        for (const w of words(s)) expect(w, `${fixture} ${finding.id}`).not.toMatch(/^(N|ID|GUEST|NETWORK|BRIDGE|IFACE|TAP|none)$|\n|#/)
      }
      expect(finding.fix.filter((l) => !l.startsWith('#'))).toEqual(finding.fixSteps.map(renderStep))
    }
  })

  it('the cases of issue 23: the right place, the right guest', () => {
    const fixes = (fixture: string, id: string) => all.filter((x) => x.fixture === fixture && x.finding.id === id).map((x) => x.finding.fix.join('\n'))
    // firewalld's catch-all stays; the bridge moves to the zone libvirt owns.
    expect(fixes('firewalld-style-public-zone', 'host-input-blocks-dhcp-dns').join('\n')).toContain('firewall-cmd --permanent --zone=libvirt --change-interface=virbr0')
    // The copy gets a new MAC; the original is not touched.
    expect(fixes('mac-duplicate', 'mac-duplicate').join('\n')).toMatch(/detach-interface kdlab-dup01 network/)
    expect(fixes('mac-duplicate', 'mac-duplicate').join('\n')).not.toMatch(/kdlab-web01/)
    // A killed dnsmasq without systemd (the lab): the network restarted, then every running guest's tap re-plugged.
    const respawn = fixes('dnsmasq-killed', 'dhcp-server-not-running').flatMap((l: string) => l.split('\n')).filter((l: string) => !l.startsWith('#'))
    expect(respawn.slice(0, 2)).toEqual(['virsh net-destroy default', 'virsh net-start default'])
    expect(respawn.slice(2).every((l: string) => /^ip link set \S+ master virbr0 up$/.test(l)) && respawn.length > 2).toBe(true)
    // The legacy tables are not flushed.
    expect(fixes('firewall-backend-mismatch', 'firewall-backend-mismatch').join('\n')).not.toMatch(/-F/)
    // An inactive network's running guests are re-plugged after it starts.
    expect(fixes('network-inactive', 'libvirt-network-inactive')[0]).toMatch(/virsh net-start default\nip link set vnet\d+ master virbr0 up/)
  })
})
