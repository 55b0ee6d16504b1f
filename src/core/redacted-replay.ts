/**
 * The captures of a redacted bundle under the keys (argv, path) its replay will ask for.
 *
 * Replayed from a bundle, a probe asks with its own words (`virsh list --all`, /run/libvirt/qemu/) and with
 * the values it read from the bundle, which are pseudonyms there (`virsh dumpxml guest-3`). Redacting the
 * recorded keys as text cannot tell the two apart: a guest named "list" would turn `virsh list --all` into
 * `virsh guest-1 --all` (and say which word the guest is named), and the replay, asking for `list`, would
 * find nothing. So the bundle replays its probes here over the redacted outputs, as `--from` will, and
 * stores each capture under the key they asked for it. Which recorded capture such a key stands for is
 * found through the redaction map: the one whose key gives it when some of its words are redacted and the
 * others kept (each word of argv whole or in pieces between blanks, "/", "=" and ","). A key that more than
 * one capture gives goes to the one of most redacted words (a value of the host, not a word of the probe's
 * that only looks like one), and to none on a tie: a capture is never answered for another.
 *
 * Nothing original gets in: a key is made of the probe's own words and of values it read from the redacted
 * outputs. A capture the replay never asked for (the probes took another way) is kept under its key
 * redacted as text, as evidence no replay reads, unless that key is taken.
 */
import {type Capture, type CommandCapture, type DirCapture, type FileCapture, captureKey} from '../lib/runner.js'
import type {Redactor} from './redact.js'
import {MemoryRunner} from './snapshot.js'

/** Where a word of argv or a path is cut into pieces redacted or kept on their own (a path's directories, `--opt=VALUE`). */
const PIECES = /([\s/=,]+)/
/** Beyond this many redactable pieces in one word, or keys for one capture, only "all kept" and "all redacted" are tried. */
const MAX_PIECES = 8
const MAX_KEYS = 256

interface Candidate {
  capture: Capture
  /** How many words or pieces of the recorded key were redacted to give this one. */
  redacted: number
}

/** The capture key of a command's argv, or of a file's or directory's path (words: the path alone). */
const keyOf = (kind: Capture['kind'], words: string[]) => captureKey(kind === 'command' ? {kind, argv: words} : {kind, path: words[0]})

/** A replay from memory (durations are the recorded ones) whose misses are "not recorded", as a replay of the bundle's. */
export class RedactedReplay extends MemoryRunner {
  private readonly byKey = new Map<string, Candidate[]>()
  /** Captures answered, by the key they were asked for. */
  private readonly asked = new Map<string, Capture>()
  private readonly answered = new Set<Capture>()
  private readonly redactedOf = new Map<Capture, Capture>()
  private readonly words = new Map<string, {text: string; redacted: number}[]>()

  constructor(
    private readonly recorded: Capture[],
    private readonly redactor: Redactor,
    capturedAt: Date,
  ) {
    super([], capturedAt)
    for (const capture of recorded) {
      for (const key of this.keysOf(capture)) {
        const at = keyOf(capture.kind, key.words)
        this.byKey.set(at, [...(this.byKey.get(at) ?? []), {capture, redacted: key.redacted}])
      }
    }
  }

  override async run(argv: string[]): Promise<CommandCapture> {
    return (this.answer('command', argv) as CommandCapture | undefined) ?? super.run(argv)
  }

  override async readFile(path: string): Promise<FileCapture> {
    return (this.answer('file', [path]) as FileCapture | undefined) ?? super.readFile(path)
  }

  override async listDir(path: string): Promise<DirCapture> {
    return (this.answer('dir', [path]) as DirCapture | undefined) ?? super.listDir(path)
  }

  /** What the bundle holds: every capture asked for, under the key it was asked by; then the others, redacted as text. */
  held(): Capture[] {
    const out = new Map(this.asked)
    const r = this.redactor
    for (const c of this.recorded) {
      if (this.answered.has(c)) continue
      const redacted = this.redacted(c)
      const kept: Capture = redacted.kind === 'command' ? {...redacted, argv: redacted.argv.map((a) => r.redact(a))} : {...redacted, path: r.redact(redacted.path)}
      if (!out.has(captureKey(kept))) out.set(captureKey(kept), kept)
    }
    return [...out.values()]
  }

  /** The recorded capture this key stands for, redacted and under this key; undefined when none or two do. */
  private answer(kind: Capture['kind'], words: string[]): Capture | undefined {
    const key = keyOf(kind, words)
    const candidates = this.byKey.get(key) ?? []
    const most = Math.max(...candidates.map((c) => c.redacted))
    const best = candidates.filter((c) => c.redacted === most)
    if (best.length !== 1) return undefined
    const capture = best[0].capture
    const redacted = this.redacted(capture)
    const stored = (redacted.kind === 'command' ? {...redacted, argv: words} : {...redacted, path: words[0]}) as Capture
    this.answered.add(capture)
    this.asked.set(key, stored)
    return stored
  }

  /** The capture's texts redacted (output, stderr, error); its key as recorded. */
  private redacted(c: Capture): Capture {
    let out = this.redactedOf.get(c)
    if (!out) {
      const r = this.redactor
      out = {...c, output: r.redact(c.output), ...(c.error === undefined ? {} : {error: r.redact(c.error)}), ...(c.kind === 'command' ? {stderr: r.redact(c.stderr)} : {})}
      this.redactedOf.set(c, out)
    }
    return out
  }

  /** The keys a replay may ask this capture by: each word kept or redacted, whole or piece by piece. */
  private keysOf(c: Capture): {words: string[]; redacted: number}[] {
    const words = c.kind === 'command' ? c.argv : [c.path]
    let keys = [{words: [] as string[], redacted: 0}]
    for (const word of words) {
      const options = this.optionsOf(word)
      if (keys.length * options.length > MAX_KEYS) {
        // Too many to try: the key as recorded, and redacted word by word.
        const whole = words.map((w) => this.redactor.redact(w))
        const changed = whole.filter((w, i) => w !== words[i]).length
        return changed === 0 ? [{words, redacted: 0}] : [{words, redacted: 0}, {words: whole, redacted: changed}]
      }
      keys = keys.flatMap((k) => options.map((o) => ({words: [...k.words, o.text], redacted: k.redacted + o.redacted})))
    }
    return keys
  }

  /** A word as recorded, redacted whole, and with each subset of its pieces redacted (each text once, counted at its most). */
  private optionsOf(word: string): {text: string; redacted: number}[] {
    const cached = this.words.get(word)
    if (cached) return cached
    const r = this.redactor
    const whole = r.redact(word)
    const options = new Map([[word, 0]])
    if (whole !== word) {
      const pieces = word.split(PIECES)
      // Odd indexes are separators; a piece counts when redacting it alone changes it.
      const changed = pieces.flatMap((p, i) => (i % 2 === 0 && r.redact(p) !== p ? [i] : []))
      if (changed.length <= MAX_PIECES) {
        for (let mask = 1; mask < 1 << changed.length; mask++) {
          const chosen = changed.filter((_, bit) => mask & (1 << bit))
          const text = pieces.map((p, i) => (chosen.includes(i) ? r.redact(p) : p)).join('')
          options.set(text, Math.max(options.get(text) ?? 0, chosen.length))
        }
      }
      options.set(whole, Math.max(options.get(whole) ?? 0, changed.length, 1))
    }
    const out = [...options].map(([text, redacted]) => ({text, redacted}))
    this.words.set(word, out)
    return out
  }
}
