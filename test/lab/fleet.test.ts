/**
 * The fleet lab (root, no libvirt guests): five hypervisors as network namespaces on this machine,
 * each with its own sshd and its own fault (test/lab/fleet-lab.ts says what is real there and what
 * stands in). Each is diagnosed from a controller namespace through `--ssh` and through the Ansible
 * playbook (Debian's ansible-core, both of its modes), and `kvmdoctor fleet` over the reports must
 * name each host's faults and nothing else. The root namespace is never touched.
 */
import {execa} from 'execa'
import {mkdir, readFile, readdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import YAML from 'yaml'
import {type FleetLab, FLEET_PREFIX, type Hypervisor, cleanFleet, startFleet} from './fleet-lab.js'
import {ROOT, sh} from './lab.js'

let lab: FleetLab
/** Reports of `diagnose --ssh`, one per host. */
let sshReports: string

type Report = {host: string; findings: {id: string; severity: string; entity: {kind: string; name: string}; explainedBy?: string}[]; notChecked: {ruleId: string}[]; probes: {id: string; ok: boolean; skipped?: boolean; error?: string}[]; gate?: {verdict: string}}

const rootsOf = (r: Report) => [...new Set(r.findings.filter((f) => !f.explainedBy).map((f) => f.id))].sort()
const destination = (h: Hypervisor) => `root@${h.address}`

/** What the root namespace holds that the lab could have left: links, addresses and routes of its subnet, namespaces, listeners. */
async function rootNamespaceTraces(): Promise<string[]> {
  const links = (JSON.parse((await sh(['ip', '-j', 'link', 'show'])).stdout) as {ifname: string}[]).map((l) => l.ifname).filter((n) => n.startsWith(FLEET_PREFIX))
  const addresses = (await sh(['ip', '-4', 'addr', 'show'])).stdout.split('\n').filter((l) => l.includes('10.199.0.'))
  const routes = (await sh(['ip', '-4', 'route', 'show', 'table', 'all'])).stdout.split('\n').filter((l) => l.includes('10.199.0.'))
  const namespaces = (await sh(['ip', 'netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`${FLEET_PREFIX}-`))
  const listeners = (await sh(['ss', '-Htln'])).stdout.split('\n').filter((l) => l.includes('10.199.0.'))
  return [...links.map((l) => `link ${l}`), ...addresses, ...routes, ...namespaces.map((n) => `netns ${n}`), ...listeners]
}

describe('fleet lab: hypervisors as namespaces, diagnosed over SSH and by Ansible', () => {
  beforeAll(async () => {
    // What an interrupted run left is removed first (its namespaces and the processes in them).
    await cleanFleet()
    expect(await rootNamespaceTraces(), 'traces of a fleet lab in the root namespace').toEqual([])
    lab = await startFleet()
    sshReports = join(lab.dir, 'ssh')
    await mkdir(sshReports)
  }, 300_000)

  afterAll(async () => {
    await lab?.stop()
  })

  it('diagnose --ssh: each host reports its own fault and nothing else, named by its own hostname', async () => {
    const runs = await Promise.all(lab.hosts.map((h) => lab.kvmdoctor(['diagnose', '--ssh', destination(h), ...lab.sshOptions, '--format', 'json', '--output', join(sshReports, `${h.name}.json`)])))
    for (const [i, h] of lab.hosts.entries()) {
      const run = runs[i]
      const report = JSON.parse(await readFile(join(sshReports, `${h.name}.json`), 'utf8')) as Report
      expect(report.host, run.stderr).toBe(h.name)
      expect(rootsOf(report), `${h.name}: ${h.fault?.description ?? 'no fault'}`).toEqual(h.expect)
      // Every probe read what it needed over SSH: no rule went unchecked, none ran blind.
      expect(report.probes.filter((p) => !p.ok && !p.skipped).map((p) => `${p.id}: ${p.error}`), h.name).toEqual([])
      expect(report.notChecked, h.name).toEqual([])
      expect(run.exitCode, `${h.name}: ${run.stderr}`).toBe(h.expect.length > 0 ? 1 : 0)
    }
  })

  it('over SSH, the same findings as kvmdoctor run on the host itself', async () => {
    for (const h of [lab.hosts[1], lab.hosts[4]]) {
      const local = await lab.onHost(h, [process.execPath, join(ROOT, 'bin/run.js'), 'diagnose', '--json'])
      const remote = JSON.parse(await readFile(join(sshReports, `${h.name}.json`), 'utf8')) as Report
      const key = (r: Report) => r.findings.map((f) => `${f.id} ${f.severity} ${f.entity.kind}:${f.entity.name} ${f.explainedBy ?? ''}`)
      const report = JSON.parse(local.stdout) as Report
      expect(report.host).toBe(h.name)
      expect(key(report), h.name).toEqual(key(remote))
    }
  })

  it('ip and trace --ssh read the same hosts: the guest and its address, the flow the REJECT stops', async () => {
    const [healthy, rejecting] = [lab.hosts[0], lab.hosts.find((h) => h.expect.includes('iptables-forward-drop'))!]
    const ip = await lab.kvmdoctor(['ip', '--ssh', destination(healthy), ...lab.sshOptions, '--json'])
    expect(ip.exitCode, ip.stderr).toBe(0)
    const inventory = JSON.parse(ip.stdout) as {host: string; rows: {domain: string; verdict: string; ipv4: {ip: string; sources: string[]}[]}[]}
    expect(inventory.host).toBe(healthy.name)
    expect(inventory.rows).toMatchObject([{domain: 'web01', verdict: 'ok', ipv4: [{ip: '192.168.122.50', sources: expect.arrayContaining(['lease', 'neighbour', 'agent'])}]}])
    const trace = await lab.kvmdoctor(['trace', 'web01', '--ssh', destination(rejecting), ...lab.sshOptions, '--json'])
    expect(trace.exitCode, trace.stderr).toBe(1)
    const flows = (JSON.parse(trace.stdout) as {host: string; flows: {kind: string; verdict: string; decidedBy?: {element?: {text: string}}}[]}).flows
    expect(flows.filter((f) => f.verdict === 'fail').map((f) => f.decidedBy?.element?.text)).toContainEqual(expect.stringContaining('-A FORWARD -s 192.168.122.0/24 -j REJECT'))
  })

  it('bundle --ssh: a bundle of the host that replays to the same findings', async () => {
    const nat = lab.hosts.find((h) => h.expect.includes('nat-masquerade-missing'))!
    const bundle = join(lab.dir, `${nat.name}.tar.gz`)
    const made = await lab.kvmdoctor(['bundle', '--ssh', destination(nat), ...lab.sshOptions, '--output', bundle])
    expect(made.exitCode, made.stderr).toBe(0)
    const replay = await lab.kvmdoctor(['diagnose', '--from', bundle, '--json'])
    const report = JSON.parse(replay.stdout) as Report
    expect(report.host).toBe(nat.name)
    expect(rootsOf(report)).toEqual(nat.expect)
  })

  it('an unreachable host, a key the host refuses, a host key not known: exit 2 with what ssh said, no stack trace', async () => {
    const cases: [string[], RegExp][] = [
      [['--ssh', 'root@10.199.0.99', ...lab.sshOptions], /^cannot connect to root@10\.199\.0\.99 over ssh: ssh: connect to host 10\.199\.0\.99 port 22: (No route to host|Connection timed out)/],
      [['--ssh', `nobody@${lab.hosts[0].address}`, ...lab.sshOptions], /Permission denied \(publickey\)\. \(kvmdoctor runs ssh in batch mode/],
      [['--ssh', destination(lab.hosts[0]), '--ssh-option', `IdentityFile=${lab.identity}`, '--ssh-option', 'UserKnownHostsFile=/dev/null', '--ssh-option', 'StrictHostKeyChecking=yes'], /Host key verification failed\. \(the host's key must already be in known_hosts/],
    ]
    for (const [args, message] of cases) {
      const r = await lab.kvmdoctor(['diagnose', ...args, '--json'])
      expect(r.exitCode, r.stdout).toBe(2)
      expect(JSON.parse(r.stdout).error.message).toMatch(message)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
  })

  describe('the Ansible playbook (ansible/fleet.yml, Debian ansible-core)', () => {
    const playbook = async (name: string, vars: Record<string, unknown>, hostVars: Record<string, Record<string, unknown>> = {}) => {
      const dir = join(lab.dir, name)
      await mkdir(dir, {recursive: true})
      const inventory = {
        hypervisors: {
          hosts: Object.fromEntries(lab.hosts.map((h) => [h.name, {ansible_host: h.address, ...hostVars[h.name]}])),
          vars: {
            ansible_user: 'root',
            ansible_become: false,
            ansible_python_interpreter: '/usr/bin/python3',
            ansible_ssh_private_key_file: lab.identity,
            ansible_ssh_common_args: `-o UserKnownHostsFile=${lab.knownHosts}`,
            kvmdoctor_fetch_dir: join(dir, 'reports'),
            kvmdoctor_cli_archive: join(lab.dir, 'kvmdoctor-cli.tar.gz'),
            kvmdoctor_controller_cmd: [process.execPath, join(ROOT, 'bin/run.js')],
            kvmdoctor_ssh_options: [`UserKnownHostsFile=${lab.knownHosts}`],
            ...vars,
          },
        },
      }
      await writeFile(join(dir, 'inventory.yml'), YAML.stringify(inventory))
      const run = await lab.inController(['ansible-playbook', '-i', join(dir, 'inventory.yml'), join(ROOT, 'ansible/fleet.yml')], {
        env: {ANSIBLE_HOME: join(dir, 'home'), ANSIBLE_LOCAL_TEMP: join(dir, 'tmp'), ANSIBLE_NOCOLOR: '1', ANSIBLE_FORKS: '5', ANSIBLE_RETRY_FILES_ENABLED: '0', ANSIBLE_SSH_CONTROL_PATH_DIR: join(dir, 'cp')},
        timeout: 600_000,
      })
      // PLAY RECAP: one line per host with its counters.
      const recap = Object.fromEntries([...run.stdout.matchAll(/^(kdf-hv\d+)\s+: ok=(\d+)\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)/gm)].map((m) => [m[1], {ok: Number(m[2]), unreachable: Number(m[3]), failed: Number(m[4])}]))
      const failures = Object.fromEntries([...run.stdout.matchAll(/^fatal: \[(kdf-hv\d+)\]: FAILED! => (\{.*\})$/gm)].map((m) => [m[1], (JSON.parse(m[2]) as {msg: string}).msg]))
      return {run, recap, failures, reports: join(dir, 'reports')}
    }

    const factOf = async (h: Hypervisor) => JSON.parse(await readFile(join(h.work, 'fs_etc/upper/ansible/facts.d/kvmdoctor.fact'), 'utf8')) as Report

    it('installed mode: installs the bundled CLI, writes the fact, fetches the reports and a bundle, fails the hosts with findings', async () => {
      await execa(process.execPath, [join(ROOT, 'scripts/pack-cli.mjs'), join(lab.dir, 'kvmdoctor-cli.tar.gz')])
      // One host's support bundle too (a bundle is a second full run there: one shows the fetch).
      const bundled = lab.hosts.find((h) => h.expect.includes('nat-masquerade-missing'))!
      const {run, recap, failures, reports} = await playbook('installed', {kvmdoctor_mode: 'installed'}, {[bundled.name]: {kvmdoctor_bundle: true}})
      expect(run.exitCode, run.stdout.slice(-4000)).toBe(2)
      for (const h of lab.hosts) {
        expect(recap[h.name], `${h.name}\n${run.stdout.slice(-4000)}`).toMatchObject({unreachable: 0, failed: h.expect.length > 0 ? 1 : 0})
        if (h.expect.length > 0) expect(failures[h.name]).toMatch(new RegExp(`^kvmdoctor: \\d+ finding\\(s\\) at or above high on ${h.name};\\s+root causes: ${h.expect.join(', ')} \\(report: `))
        // The report on the host (a local fact) and the one fetched to the controller are the same.
        const fact = await factOf(h)
        expect(fact.host).toBe(h.name)
        expect(rootsOf(fact)).toEqual(h.expect)
        expect(JSON.parse(await readFile(join(reports, `${h.name}.json`), 'utf8'))).toEqual(fact)
        // The CLI is installed there (the hypervisor's own /usr/local).
        expect((await readdir(join(h.work, 'fs_usr_local/upper/lib/kvmdoctor'))).sort()).toEqual(['current', expect.stringMatching(/^kvmdoctor-\d/)])
      }
      expect((await readdir(reports)).filter((f) => f.endsWith('.tar.gz'))).toEqual([`${bundled.name}.tar.gz`])
      const replay = JSON.parse((await lab.kvmdoctor(['diagnose', '--from', join(reports, `${bundled.name}.tar.gz`), '--json'])).stdout) as Report
      expect([replay.host, rootsOf(replay)]).toEqual([bundled.name, bundled.expect])
      // ansible_local.kvmdoctor: the fact as Ansible reads it.
      const setup = await lab.inController(['ansible', '-i', join(lab.dir, 'installed/inventory.yml'), lab.hosts[1].name, '-m', 'ansible.builtin.setup', '-a', 'filter=ansible_local'], {env: {ANSIBLE_HOME: join(lab.dir, 'installed/home'), ANSIBLE_NOCOLOR: '1'}})
      // ansible's minimal output: "HOST | SUCCESS => {...}".
      expect(setup.stdout, setup.stderr).toMatch(new RegExp(`^${lab.hosts[1].name} \\| SUCCESS => \\{`))
      const facts = JSON.parse(setup.stdout.slice(setup.stdout.indexOf('{'))) as {ansible_facts: {ansible_local: {kvmdoctor: Report}}}
      expect(facts.ansible_facts.ansible_local.kvmdoctor.host).toBe(lab.hosts[1].name)
      expect(rootsOf(facts.ansible_facts.ansible_local.kvmdoctor)).toEqual(lab.hosts[1].expect)
    })

    it('ssh mode: nothing installed, the controller diagnoses over SSH; exit 4 fails a host, or passes it when allowed', async () => {
      const [first, second] = lab.hosts
      // libvirt unreachable there: the rules that need it cannot be checked (exit 4).
      const blind = {kvmdoctor_extra_args: ['--connect', 'qemu:///session']}
      const {run, recap, failures, reports} = await playbook('ssh', {kvmdoctor_mode: 'ssh'}, {[first.name]: {...blind, kvmdoctor_fail_on_unchecked: false}, [second.name]: blind})
      expect(run.exitCode, run.stdout.slice(-4000)).toBe(2)
      expect(recap[first.name], run.stdout.slice(-4000)).toMatchObject({failed: 0, unreachable: 0})
      expect(failures[second.name]).toMatch(new RegExp(`^kvmdoctor: rules at or above high could not be checked on ${second.name}:\\s+.*ip-forward-disabled.*libvirtd is not reachable at qemu:///session`))
      for (const h of lab.hosts.slice(2)) {
        expect(recap[h.name]).toMatchObject({failed: 1})
        expect(failures[h.name]).toMatch(new RegExp(`root causes: ${h.expect.join(', ')} `))
        expect(rootsOf(await factOf(h))).toEqual(h.expect)
      }
      const view = await readFile(join(reports, 'fleet.md'), 'utf8')
      for (const h of lab.hosts) expect(view).toContain(h.name)
    })
  })

  it('the fleet view of the reports and a bundle names each host\'s faults and nothing else', async () => {
    const nat = lab.hosts.find((h) => h.expect.includes('nat-masquerade-missing'))!
    // hv4 by its bundle (analysed as diagnose --from does), the others by their --ssh reports.
    const inputs = [...lab.hosts.filter((h) => h !== nat).map((h) => join(sshReports, `${h.name}.json`)), join(lab.dir, `${nat.name}.tar.gz`)]
    const r = await lab.kvmdoctor(['fleet', ...inputs, '--baseline', join(lab.dir, 'installed/reports'), '--json'])
    expect(r.exitCode, r.stderr).toBe(1)
    const view = JSON.parse(r.stdout) as {hosts: {host: string; rootCauses: {id: string; new?: boolean}[]; verdict: string}[]; findings: {id: string; hosts: {host: string}[]}[]; errors: unknown[]; summary: {newFindings: number}}
    expect(view.errors).toEqual([])
    for (const h of lab.hosts) {
      const host = view.hosts.find((x) => x.host === h.name)!
      expect(host.rootCauses.map((c) => c.id).sort(), h.name).toEqual(h.expect)
      expect(host.verdict).toBe(h.expect.length > 0 ? 'fail' : 'pass')
    }
    const expected = Object.fromEntries([...new Set(lab.hosts.flatMap((h) => h.expect))].map((id) => [id, lab.hosts.filter((h) => h.expect.includes(id)).map((h) => h.name)]))
    expect(Object.fromEntries(view.findings.map((f) => [f.id, f.hosts.map((h) => h.host)]))).toEqual(expected)
    // The Ansible run saw the same: nothing is new since.
    expect(view.summary.newFindings).toBe(0)
    const text = await lab.kvmdoctor(['fleet', ...inputs])
    for (const h of lab.hosts) for (const id of h.expect) expect(text.stdout).toMatch(new RegExp(`${id}\\s+1 host\\s+${h.name}`))
  })

  // Its sysctls and netfilter are not compared: the libvirt lab may run on this machine meanwhile and change
  // them; every command of the fleet lab that changes state runs inside one of its namespaces (ip netns exec).
  it('leaves the machine as it was: no namespace, link, address, route or listener of the lab', async () => {
    await lab.stop()
    expect(await rootNamespaceTraces()).toEqual([])
  })
})
