/** Writes a synthetic snapshot: `node dist-bench/bench/generate.js DIR DOMAINS RULES [NETWORKS]`. */
import {mkdir, rm} from 'node:fs/promises'
import {dirname} from 'node:path'
import {ALL_PROBES} from '../probes/index.js'
import {guestAgentProbe} from '../probes/guest-agent.js'
import {runProbes} from '../src/core/probe-runner.js'
import {RecordingRunner, writeSnapshot} from '../src/core/snapshot.js'
import {type HostShape, SyntheticHost} from './synthetic-host.js'

export async function generateSnapshot(dir: string, shape: HostShape): Promise<void> {
  const host = new SyntheticHost(shape)
  const recorder = new RecordingRunner(host)
  const options = {active: false, libvirtUri: 'qemu:///system', ...(shape.listen ? {listen: shape.listen} : {})}
  // Record what diagnose and ip read, so both replay from the same snapshot.
  await runProbes([...ALL_PROBES, guestAgentProbe], recorder, options)
  await rm(dir, {recursive: true, force: true})
  await mkdir(dirname(dir), {recursive: true})
  await writeSnapshot(dir, recorder.all(), {kvmdoctorVersion: 'bench', capturedAt: host.capturedAt, host: 'bench-host', kernel: '6.1.0-56-amd64', libvirtVersion: '9.0.0', options})
}

if (process.argv[1]?.endsWith('generate.js') && process.argv.length >= 5) {
  const [dir, domains, rules, networks] = process.argv.slice(2)
  await generateSnapshot(dir, {domains: Number(domains), rules: Number(rules), networks: Number(networks ?? Math.max(1, Math.ceil(Number(domains) / 200)))})
}
