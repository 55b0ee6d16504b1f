import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseXmlDocument, readPlainXmlDocument} from '../../probes/libvirt.js'

const FIXTURES = new URL('../../fixtures/', import.meta.url).pathname

/** Every recorded output that holds libvirt XML (domain, status, network), as the libvirt probe is handed it. */
function recordedXml(): {label: string; text: string}[] {
  const found: {label: string; text: string}[] = []
  for (const fixture of readdirSync(FIXTURES)) {
    let files: string[]
    try {
      files = readdirSync(join(FIXTURES, fixture, 'outputs'))
    } catch {
      continue
    }
    for (const file of files) {
      const text = readFileSync(join(FIXTURES, fixture, 'outputs', file), 'utf8')
      if (!/<(domain|domstatus|network)[\s>]/.test(text)) continue
      found.push({label: `${fixture}/${file}`, text})
      // A network's status file is read for the <network> it holds.
      const network = /<network[\s>][\s\S]*<\/network>/.exec(text)?.[0]
      if (network && network !== text) found.push({label: `${fixture}/${file} <network>`, text: network})
    }
  }
  return found
}

describe('plain XML reader (libvirt XML without fast-xml-parser)', () => {
  it('reads every recorded libvirt XML to the tree fast-xml-parser builds, or leaves it to fast-xml-parser', () => {
    const recorded = recordedXml()
    let read = 0
    for (const {label, text} of recorded) {
      const plain = readPlainXmlDocument(text)
      if (plain === undefined) continue
      read++
      expect(plain, label).toStrictEqual(parseXmlDocument(text))
    }
    // Nearly all of what libvirt writes is plain: the reader is the one that runs.
    expect(recorded.length).toBeGreaterThan(300)
    expect(read).toBeGreaterThan(recorded.length * 0.95)
  })

  it('builds the same shapes: text leaves, attributes with #text, lists, a stop element kept as its text', () => {
    const text = `<!-- written by libvirt -->
<domstatus state='running'>
  <qemuCaps><flag name='kvm'/></qemuCaps>
  <devices><device alias='net0'/></devices>
  <domain type="kvm" id=' 3 '>
    <name>web01</name>
    <title lang='en'> Web </title>
    <devices>
      <interface type='network'><mac address='52:54:00:aa:bb:cc'/><vlan><tag id='7'/></vlan></interface>
      <disk/><disk device='cdrom'/>
    </devices>
  </domain>
</domstatus>
`
    const plain = readPlainXmlDocument(text)
    expect(plain).toStrictEqual(parseXmlDocument(text))
    expect(plain).toStrictEqual({
      domstatus: {
        '@state': 'running',
        qemuCaps: "<flag name='kvm'/>",
        devices: "<device alias='net0'/>",
        domain: {
          '@type': 'kvm',
          '@id': '3',
          name: 'web01',
          title: {'@lang': 'en', '#text': 'Web'},
          devices: {interface: [{'@type': 'network', mac: {'@address': '52:54:00:aa:bb:cc'}, vlan: {tag: [{'@id': '7'}]}}], disk: ['', {'@device': 'cdrom'}]},
        },
      },
    })
  })

  it.each([
    ['an entity', `<domain><name>a&amp;b</name></domain>`],
    ['a character reference', `<domain><name>&#65;</name></domain>`],
    ['CDATA', `<domain><name><![CDATA[x]]></name></domain>`],
    ['a declaration', `<?xml version="1.0"?><domain/>`],
    ['a DOCTYPE', `<!DOCTYPE domain><domain/>`],
    ['a repeated attribute', `<domain type='kvm' type='qemu'/>`],
    ['an unquoted attribute', `<domain type=kvm/>`],
    ['attributes run together', `<domain type='kvm'id='1'/>`],
    ['a line break in a value', `<domain><description x='a\nb'/></domain>`],
    ['mixed content', `<domain>text<name>n</name></domain>`],
    ['a mismatched close', `<domain><name>n</nam></domain>`],
    ['an unclosed element', `<domain><name>n</name>`],
    ['two roots', `<domain/><domain/>`],
    ['text after the root', `<domain/>x`],
    ['a name objects have', `<domain><constructor/></domain>`],
    // Names are judged once and remembered: the same name met again is refused again.
    ['a name objects have, met again', `<domain><constructor/></domain>`],
    ['an attribute named like an object property', `<domain __proto__='x'/>`],
    ['a comment with --', `<domain><!-- a -- b --></domain>`],
    ['a stop element with attributes', `<domstatus><devices x='1'/><domain/></domstatus>`],
  ])('leaves %s to fast-xml-parser', (_what, text) => {
    expect(readPlainXmlDocument(text)).toBeUndefined()
  })
})
