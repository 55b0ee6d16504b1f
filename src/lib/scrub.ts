/**
 * Credentials that must never leave the host, whatever the user asks for.
 * Every byte kvmdoctor writes (snapshot outputs, errors, manifest, facts,
 * findings, reports) passes through scrubText/scrubDeep first.
 *
 * The forms are a table below. Every pattern is linear: repetition is bounded,
 * or (PEM) one lazy scan to an end marker, so scrubbing stays fast on hostile
 * multi-MiB outputs.
 */
import type {Capture} from './runner.js'

export const SCRUBBED = 'SCRUBBED'

/** A value after `=`, `:` or a flag: a quoted value whole, else one bare word. */
const QUOTED = String.raw`"(?:[^"\\\n]|\\.){0,1024}"|'[^'\n]{0,1024}'`
const VALUE = String.raw`${QUOTED}|[^\s'"&]+`

/** Parts of a key that mark it a credential, anywhere in the key (db_password, secret_access_key). */
const SECRET_PARTS = new Set(['password', 'passwd', 'passphrase', 'secret', 'secrets', 'token', 'tokens', 'credential', 'credentials', 'requirepass', 'masterauth', 'apikey', 'authtoken', 'accesstoken', 'pgpassword', 'sshpass'])
/** Parts that mark a credential only as the last part (--pass, db-pass, MYSQL_PWD), not pass_fds or pw-policy. */
const LAST_PARTS = new Set(['pass', 'pwd', 'pw', 'auth'])
/** A key-ish part followed by these: api_key, access-key, private_key, session_token. */
const KEY_OWNERS = new Set(['api', 'access', 'private', 'auth', 'encryption', 'master', 'signing', 'secret', 'client', 'session', 'refresh', 'bearer'])
/** Values that say a credential is configured, not what it is (qemu `password=on`). */
const HARMLESS = /^(?:on|off|yes|no|true|false|none|null|SCRUBBED)?$/i

export function isCredentialName(key: string): boolean {
  const parts = key.toLowerCase().split(/[-_.]+/).filter(Boolean)
  if (parts.length === 0) return false
  if (parts.some((p) => SECRET_PARTS.has(p))) return true
  if (LAST_PARTS.has(parts[parts.length - 1])) return true
  for (let i = 1; i < parts.length; i++) if ((parts[i] === 'key' || parts[i] === 'token') && KEY_OWNERS.has(parts[i - 1])) return true
  return false
}

/** Replaces a value, keeping its quotes so the text keeps its shape (XML, JSON, shell). */
function replaceValue(value: string): string {
  const q = value[0]
  if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) return `${q}${SCRUBBED}${q}`
  return SCRUBBED
}

const unquoted = (value: string) => (/^["']/.test(value) ? value.slice(1, -1) : value)

type Replacer = (match: string, ...groups: string[]) => string

export interface CredentialForm {
  /** What it catches, for the tests and the README. */
  form: string
  pattern: RegExp
  replace: string | Replacer
}

/** The credential forms, applied in order. */
export const CREDENTIAL_FORMS: CredentialForm[] = [
  {
    form: 'PEM private key blocks (to the END line, or to the end of the text when cut)',
    pattern: /(-----BEGIN ((?:[A-Z0-9]+ ){0,4})PRIVATE KEY(?: BLOCK)?-----)[\s\S]*?(-----END \2PRIVATE KEY(?: BLOCK)?-----|$)/g,
    replace: (_m, begin, _kind, end) => `${begin}\n${SCRUBBED}\n${end}`,
  },
  {
    form: "libvirt XML: <auth username=…> and <secret uuid=… usage=…> of network disks and encryption",
    pattern: /<(?:auth|secret)\b[^<>]{0,4096}>/g,
    replace: (element) => element.replace(/\b(username|uuid|usage)=(['"])[^'"<>]*\2/g, `$1=$2${SCRUBBED}$2`),
  },
  {form: 'libvirt XML: <cookie> values of http(s) network disks', pattern: /(<cookie\b[^<>]{0,1024}>)[^<]{0,65536}(<\/cookie>)/g, replace: `$1${SCRUBBED}$2`},
  {
    form: 'qemu command line: -object secret,…,data=…',
    pattern: /\bsecret,[^\s]{0,8192}/g,
    replace: (option) => option.replace(/(^secret,|,)data=[^,\s'"]+/g, `$1data=${SCRUBBED}`),
  },
  {
    form: 'qemu JSON: -object {"qom-type":"secret",…,"data":"…"} (either order)',
    pattern: /\{[^{}]{0,8192}\}/g,
    replace: (object) => (/"qom-type"\s*:\s*"secret"/.test(object) ? object.replace(/("data"\s*:\s*")(?:[^"\\]|\\.)*(")/g, `$1${SCRUBBED}$2`) : object),
  },
  {form: 'ceph key in a qemu rbd filename (:key=…)', pattern: /(:key=)[^:\s,'"]+/g, replace: `$1${SCRUBBED}`},
  {form: 'bearer tokens (Bearer …)', pattern: /\b(bearer)\s+(?!SCRUBBED)[A-Za-z0-9._~+/-]{8,}=*/gi, replace: `$1 ${SCRUBBED}`},
  {
    form: 'URLs with credentials (scheme://user:password@host)',
    pattern: /\b[a-z][a-z0-9+.-]{1,31}:\/\/[^\s'"<>]{1,2048}/gi,
    replace: (url) => url.replace(/^([^:]+:\/\/[^\s/:@]*:)[^\s@]*(@)/, `$1${SCRUBBED}$2`),
  },
  {
    form: 'mysql/mariadb -pPASSWORD (attached)',
    pattern: /(\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mysqlpump|mysqlbinlog|mariadb(?:-dump|-admin|-import|-check)?)\b[^\n]{0,4096}?\s-p)(?![\s-])(?:"[^"\n]{0,1024}"|'[^'\n]{0,1024}'|\S+)/g,
    replace: `$1${SCRUBBED}`,
  },
  {form: 'sshpass -p PASSWORD', pattern: /(\bsshpass\b[^\n]{0,4096}?\s-p\s*)(?:"[^"\n]{0,1024}"|'[^'\n]{0,1024}'|\S+)/g, replace: `$1${SCRUBBED}`},
  {form: 'redis-cli -a PASSWORD', pattern: /(\bredis-cli\b[^\n]{0,4096}?\s-a\s+)(?:"[^"\n]{0,1024}"|'[^'\n]{0,1024}'|\S+)/g, replace: `$1${SCRUBBED}`},
  {form: 'curl/wget -u/--user user:password', pattern: /((?:^|\s)(?:-u|-U|--user|--proxy-user)(?:\s+|=)["']?[^\s:'"]{1,256}:)[^\s'"]+/g, replace: `$1${SCRUBBED}`},
  {
    form: 'command-line flags: --password=…, --password …, --pass, --secret-key, --token, --api-key, --requirepass, --masterauth, … (quoted values whole)',
    pattern: new RegExp(String.raw`((?:^|[\s'"(\[,])--?)([A-Za-z][A-Za-z0-9_.-]{0,127})(=|[ \t]+)(${VALUE})`, 'gm'),
    replace: (match, lead, name, sep, value) => {
      if (!isCredentialName(name) || HARMLESS.test(unquoted(value))) return match
      // `--password --verbose` has no value: the next word is another flag.
      if (sep !== '=' && value.startsWith('-')) return match
      return `${lead}${name}${sep}${replaceValue(value)}`
    },
  },
  {
    form: 'assignments: PASSWORD=…, PGPASSWORD=…, MYSQL_PWD=…, AWS_SECRET_ACCESS_KEY=…, passwd = \'…\', api_key=… (env, config, XML attributes, URLs)',
    pattern: new RegExp(String.raw`(?<![A-Za-z0-9_.-])([A-Za-z][A-Za-z0-9_.-]{0,127})([ \t]*=[ \t]*)(${VALUE})`, 'g'),
    replace: (match, name, sep, value) => (isCredentialName(name) && !HARMLESS.test(unquoted(value)) ? `${name}${sep}${replaceValue(value)}` : match),
  },
  {
    form: 'key: value forms: "password": "…" (JSON), password: … (YAML, logs)',
    pattern: new RegExp(String.raw`(?<![A-Za-z0-9_.-])(["']?)([A-Za-z][A-Za-z0-9_.-]{0,127})\1([ \t]*:[ \t]*)(${QUOTED}|[^\s,;'"}\]]+)`, 'g'),
    replace: (match, quote, name, sep, value) => {
      if (!isCredentialName(name) || HARMLESS.test(unquoted(value))) return match
      // `token:abc` without quotes or a space is more likely a scheme or a label than a setting.
      if (!quote && !/\s/.test(sep) && !/^["']/.test(value)) return match
      return `${quote}${name}${quote}${sep}${replaceValue(value)}`
    },
  },
  {form: 'ISC dhcpd / bind key blocks: secret "…";', pattern: /\b(secret)(\s+)"[^"\n]{0,4096}"/g, replace: `$1$2"${SCRUBBED}"`},
  {form: 'ISC dhcpd / bind key blocks: secret BASE64;', pattern: /\b(secret)(\s+)(?!SCRUBBED)[A-Za-z0-9+/=]{8,}(\s*;)/g, replace: `$1$2${SCRUBBED}$3`},
  {form: "SQL: IDENTIFIED BY '…'", pattern: /\b(identified\s+by\s+(?:password\s+)?)(?:'[^'\n]{0,1024}'|"[^"\n]{0,1024}")/gi, replace: `$1'${SCRUBBED}'`},
  {form: 'well-known token formats: AWS access key ids, GitHub, GitLab and Slack tokens, JWTs', pattern: /\b(?:(?:AKIA|ASIA)[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,255}|glpat-[A-Za-z0-9_-]{20,255}|xox[abprs]-[A-Za-z0-9-]{10,255}|eyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{8,4096})\b/g, replace: SCRUBBED},
  // Last: it takes the rest of the line, which would hide the context other forms need.
  {
    form: 'HTTP credential headers: Authorization, Proxy-Authorization, Cookie, X-Auth-Token, X-API-Key, X-Vault-Token',
    pattern: /\b((?:proxy-)?authorization|cookie|set-cookie|x-auth-token|x-api-key|x-vault-token)(\s*[:=]\s*)(?:(basic|bearer|digest|token|negotiate)\s+)?[^\s'"][^\n'"]{0,4096}/gi,
    replace: (_m, header, sep, scheme) => `${header}${sep}${scheme ? `${scheme} ` : ''}${SCRUBBED}`,
  },
]

/**
 * What every form above needs at least one of: `=`, `:`, `<`, `{`, a dash opening a word, or one
 * of a few keywords. A text with none of them (most names and values) skips the table.
 */
const MAY_HOLD_CREDENTIAL = /[=:<{]|(?:^|[\s'"(\[,])-|secret|bearer|identified|AKIA|ASIA|gh[pousr]_|glpat|xox|eyJ/im

/** Removes every credential form of the table from a text. Idempotent. */
export function scrubText(text: string): string {
  if (!MAY_HOLD_CREDENTIAL.test(text)) return text
  let out = text
  for (const {pattern, replace} of CREDENTIAL_FORMS) {
    pattern.lastIndex = 0
    out = typeof replace === 'string' ? out.replace(pattern, replace) : out.replace(pattern, replace as (substring: string, ...args: unknown[]) => string)
  }
  return out
}

/**
 * `f` remembering its answer for short strings: names and ids repeat thousands of times in a big
 * host's findings, and each is transformed once (long texts rarely repeat and would fill the memo).
 */
function memoized(f: (text: string) => string): (text: string) => string {
  const done = new Map<string, string>()
  return (text) => {
    if (text.length > 256) return f(text)
    let out = done.get(text)
    if (out === undefined) done.set(text, (out = f(text)))
    return out
  }
}

/** Every string inside a value (facts, findings, manifests), scrubbed; the value is copied, not changed. */
export function scrubDeep<T>(value: T): T {
  const seen = new WeakMap<object, unknown>()
  const scrub = memoized(scrubText)
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return scrub(v)
    if (v === null || typeof v !== 'object') return v
    if (v instanceof Date) return v
    const known = seen.get(v)
    if (known) return known
    if (Array.isArray(v)) {
      const out: unknown[] = []
      seen.set(v, out)
      for (let i = 0; i < v.length; i++) out.push(walk(v[i]))
      return out
    }
    const out: Record<string, unknown> = {}
    seen.set(v, out)
    // Own enumerable keys in Object.entries' order, without an array of pairs per object.
    for (const k in v) if (Object.hasOwn(v, k)) out[k] = walk((v as Record<string, unknown>)[k])
    return out
  }
  return walk(value) as T
}

/**
 * Every string inside a value passed through `f`, copying only what changes: an object or array
 * none of whose strings change is returned as it is (a report of a big host is mostly strings no
 * transform touches, and copying all of it was most of a text report's cost). Objects met twice get
 * one result. `f` must be pure: each distinct short string is transformed once.
 */
export function mapStringsDeep<T>(value: T, f: (text: string) => string): T {
  const seen = new WeakMap<object, unknown>()
  const transform = memoized(f)
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return transform(v)
    if (v === null || typeof v !== 'object' || v instanceof Date) return v
    if (seen.has(v)) return seen.get(v)
    // Reports hold data, not cycles: a cycle back to an object still being walked sees it unchanged
    // (scrubDeep, which copies everything, handles cycles fully).
    seen.set(v, v)
    let out: unknown = v
    if (Array.isArray(v)) {
      let copy: unknown[] | undefined
      for (let i = 0; i < v.length; i++) {
        const item = walk(v[i])
        if (item !== v[i] && copy === undefined) copy = v.slice(0, i)
        copy?.push(item)
      }
      if (copy) out = copy
    } else {
      let copy: Record<string, unknown> | undefined
      const source = v as Record<string, unknown>
      for (const k in source) {
        if (!Object.hasOwn(source, k)) continue
        const item = walk(source[k])
        if (item !== source[k] && copy === undefined) {
          copy = {}
          // The keys before this one, unchanged, in their order.
          for (const before in source) {
            if (before === k) break
            if (Object.hasOwn(source, before)) copy[before] = source[before]
          }
        }
        if (copy) copy[k] = item
      }
      if (copy) out = copy
    }
    seen.set(v, out)
    return out
  }
  return walk(value) as T
}

/** A capture with its output, stderr, error, argv and path scrubbed. */
export function scrubCapture<T extends Capture>(c: T): T {
  const out = {...c, output: scrubText(c.output)}
  if (c.error !== undefined) out.error = scrubText(c.error)
  if (out.kind === 'command' && c.kind === 'command') {
    out.argv = c.argv.map(scrubText)
    out.stderr = scrubText(c.stderr)
  } else if (out.kind !== 'command' && c.kind !== 'command') {
    out.path = scrubText(c.path)
  }
  return out
}
