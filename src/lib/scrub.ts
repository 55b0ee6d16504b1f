/**
 * Credentials that must never leave the host, whatever the user asks for.
 * Every byte kvmdoctor writes (snapshot outputs, errors, manifest, facts,
 * findings, reports, topology) passes through scrubText/scrubDeep first.
 *
 * Where the format is known the scrubber follows its structure: a `key=value`
 * list (qemu's `-spice port=5900,password=…`, CIFS `-o user=…,password=…`, URL
 * queries) is read pair by pair, so a value never hides the next pair; quoted
 * values (XML attributes, systemd `Environment="…"`) are read inside; XML
 * elements named like a credential (`<qemu:env name='DB_PASSWORD' value=…>`,
 * `<password>…</password>`) lose their value; JSON objects lose the string of a
 * key named like one. Names are judged by their words, camelCase included
 * (`keyStorePassword`, `_authToken`, `AccountKey`). Well-known token formats are
 * removed wherever they stand.
 *
 * The forms are a table below. Every pattern is linear: repetition is bounded,
 * or (PEM) one lazy scan to an end marker, so scrubbing stays fast on hostile
 * multi-MiB outputs.
 */
import type {Capture} from './runner.js'

export const SCRUBBED = 'SCRUBBED'

/** A quoted value, taken whole. */
const QUOTED = String.raw`"(?:[^"\\\n]|\\.){0,1024}"|'[^'\n]{0,1024}'`
/** A name as configuration, environments and command lines write them (leading underscores: npm's `_authToken`). */
const NAME = String.raw`_{0,2}[A-Za-z][A-Za-z0-9_.-]{0,127}`

/** Words that make a name a credential wherever they stand in it (db_password, secret_access_key, keyStorePassword). */
const SECRET_WORDS = new Set([
  'password', 'passwords', 'passwd', 'passphrase', 'secret', 'secrets', 'token', 'tokens', 'credential', 'credentials', 'psk',
  'requirepass', 'masterauth', 'apikey', 'authtoken', 'accesstoken', 'authtok', 'pgpassword', 'sshpass', 'bindpw', 'rootpw', 'signature',
])
/** Words that make a name a credential only as its last word (--pass, db-pass, MYSQL_PWD, olcRootPW), not pass_fds or pw-policy. */
const LAST_WORDS = new Set(['pass', 'pwd', 'pw', 'auth', 'sig', 'community'])
/** `key` after one of these words: api_key, access-key, private_key, AccountKey, PresharedKey, client-key-data. */
const KEY_OWNERS = new Set(['api', 'access', 'private', 'auth', 'encryption', 'master', 'signing', 'secret', 'client', 'session', 'refresh', 'bearer', 'account', 'storage', 'shared', 'preshared', 'sas', 'license', 'root', 'admin'])
/** A last word that makes the name point at a credential, not hold one: --password-file, secret_id, token_type, keyStorePasswordEnv. */
const POINTER_WORDS = new Set(['file', 'files', 'path', 'dir', 'id', 'ids', 'uuid', 'name', 'length', 'len', 'min', 'max', 'policy', 'prompt', 'type', 'mode', 'format', 'env', 'command', 'cmd', 'helper', 'method', 'usage', 'expiry', 'expires', 'lifetime', 'ttl', 'timeout', 'required', 'enabled', 'algorithm', 'scheme', 'url', 'uri', 'endpoint', 'store'])
/** Values that say a credential is configured, not what it is (qemu `password=on`). */
const HARMLESS = /^(?:on|off|yes|no|true|false|none|null|SCRUBBED)?$/i

/** The words of a name: split at punctuation and at camelCase humps (keyStorePassword, DBPassword, AccountKey). */
function wordsOf(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean)
}

/**
 * Whether a name (a flag, a variable, a key, an attribute) says its value is a credential.
 * `loneKey`: a name that is just `key` (ceph `--key`, a keyring's `key = …`) counts; JSON
 * object keys are judged without it (a `key` field of data is a key, not a secret).
 */
export function isCredentialName(name: string, options: {loneKey?: boolean} = {}): boolean {
  const lone = options.loneKey ?? true
  // One map per reading, keyed by the name itself: a key joined per call was a new string to hash for every
  // field of every object scrubbed (each flow of a big host's report).
  const judged = lone ? judgedAlone : judgedInKeys
  let known = judged.get(name)
  if (known === undefined) {
    known = judgeName(name, lone)
    // Names repeat (every domain XML has the same attributes): judged once, up to a bound a hostile text cannot pass.
    if (judged.size < 32_768) judged.set(name, known)
  }
  return known
}

const judgedAlone = new Map<string, boolean>()
const judgedInKeys = new Map<string, boolean>()

/** The shell's working directories, whose names end in a credential word. */
const SHELL_DIRECTORIES = new Set(['PWD', 'OLDPWD'])

function judgeName(name: string, loneKey: boolean): boolean {
  if (SHELL_DIRECTORIES.has(name)) return false
  const words = wordsOf(name)
  if (words.length === 0) return false
  const last = words[words.length - 1]
  if (POINTER_WORDS.has(last) && words.length > 1) return false
  if (words.some((w) => SECRET_WORDS.has(w))) return true
  if (LAST_WORDS.has(last)) return true
  if (loneKey && words.length === 1 && last === 'key') return true
  for (let i = 1; i < words.length; i++) if ((words[i] === 'key' || words[i] === 'token') && KEY_OWNERS.has(words[i - 1])) return true
  return false
}

/** Replaces a value, keeping its quotes so the text keeps its shape (XML, JSON, shell). */
function replaceValue(value: string): string {
  const q = value[0]
  if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) return `${q}${SCRUBBED}${q}`
  if (value.startsWith('\\') && value.length >= 4 && value.endsWith(value.slice(0, 2))) return `${value.slice(0, 2)}${SCRUBBED}${value.slice(0, 2)}`
  return SCRUBBED
}

const unquoted = (value: string) => (/^["']/.test(value) ? value.slice(1, -1) : value)
const secretValue = (value: string) => !HARMLESS.test(unquoted(value))

type Replacer = (match: string, ...groups: string[]) => string

/** One form: a pattern and its replacement, or a scan that reads a text's structure (pairs). */
export type CredentialForm = {
  /** What it catches, for the tests and the README. */
  form: string
  /** Forms that follow one another in the table and each need a word of `needs` (the tools of TOOL_OPTIONS). */
  group?: {needs: RegExp}
  /**
   * What the form cannot match without (a literal of its pattern, a character its scan opens on): a text without it
   * skips the form, its pattern never run, nor compiled in a run that meets no such text.
   */
  needs?: RegExp
} & ({pattern: RegExp; replace: string | Replacer} | {scan: (text: string) => string})

/** A value's end in a `key=value` list: the next separator that opens another `key=` (port=5900,password=x,addr=…; a&token=t). */
const NEXT_PAIR = new RegExp(String.raw`[,&;](?=${NAME}[ \t]*=)`, 'y')
const VALUE_PART = /[^\s'",&;]*/y

/** Where a bare value from `from` ends: at white space or a quote, or at the separator of the list's next pair. */
function bareValueEnd(text: string, from: number): number {
  let end = from
  for (;;) {
    VALUE_PART.lastIndex = end
    end += VALUE_PART.exec(text)![0].length
    if (end >= text.length || !/[,&;]/.test(text[end])) return end
    NEXT_PAIR.lastIndex = end
    if (NEXT_PAIR.test(text)) return end
    end++
  }
}

const QUOTED_AT = new RegExp(String.raw`${QUOTED}|\\"(?:[^"\\\n]){0,1024}\\"`, 'y')
const FLAG_VALUE = /[^\s'"]*/y

/** The quote closing a quoted word opened before `from`, within 1024 characters of one line; -1 when none. */
function closingQuote(text: string, from: number, quote: string): number {
  for (let i = from; i < text.length && i < from + 1024; i++) {
    if (text[i] === quote) return i
    if (text[i] === '\n' || (quote === '"' && text[i] === '\\')) return -1
  }
  return -1
}

/**
 * Replaces the value after each opener (a name and its separator) that `judge` says opens a
 * credential. Only a credential's value is consumed: any other name's value is read on, so the
 * pairs inside it are found (Environment=DB_PASS=…, value='port=5901,password=…', user=u,password=p,
 * `error : olcRootPW: …`, `-u --password x`). Linear: each value is consumed once.
 */
function scrubPairs(text: string, opener: RegExp, judge: (m: RegExpExecArray) => boolean, valueEnd: (start: number, m: RegExpExecArray) => number, accept: (value: string, m: RegExpExecArray) => boolean = () => true): string {
  opener.lastIndex = 0
  let out = ''
  let copied = 0
  for (let m = opener.exec(text); m; m = opener.exec(text)) {
    if (!judge(m)) continue
    const start = m.index + m[0].length
    QUOTED_AT.lastIndex = start
    const quoted = QUOTED_AT.exec(text)
    const end = quoted ? start + quoted[0].length : valueEnd(start, m)
    const value = text.slice(start, end)
    if (end === start || !secretValue(value) || !accept(value, m)) continue
    out += text.slice(copied, start) + replaceValue(value)
    copied = end
    opener.lastIndex = end
  }
  return copied === 0 ? text : out + text.slice(copied)
}

/** `name=value`: env assignments, config lines, URL queries, qemu and mount option lists, attributes. `=` but not `=>` or `==`. */
const ASSIGNMENT = new RegExp(String.raw`(?<![A-Za-z0-9_.\\-])(${NAME})([ \t]*=(?![=>])[ \t]*)`, 'g')

function scrubAssignments(text: string): string {
  return scrubPairs(
    text,
    ASSIGNMENT,
    (m) => isCredentialName(m[1]),
    (start, m) => {
      // A quoted word that is the whole assignment ("DB_PASSWORD=two words": systemd, docker -e, env files): its value runs to the quote.
      const opener = text[m.index - 1]
      const closer = opener === '"' || opener === "'" ? closingQuote(text, start, opener) : -1
      return closer >= 0 ? closer : bareValueEnd(text, start)
    },
  )
}

/** `--name value` and `--name=value` flags. */
const FLAG = /(?:^|(?<=[\s'"(\[,]))--?([A-Za-z][A-Za-z0-9_.-]{0,127})(=|[ \t]+)/gm

function scrubFlags(text: string): string {
  return scrubPairs(
    text,
    FLAG,
    (m) => isCredentialName(m[1]),
    (start) => {
      FLAG_VALUE.lastIndex = start
      return start + FLAG_VALUE.exec(text)![0].length
    },
    // A value that starts with a dash is the next flag (`--password --verbose`).
    (value, m) => m[2] === '=' || !value.startsWith('-'),
  )
}

/** `key: value` and `key => value`, the key maybe quoted (JSON, escaped JSON, YAML, LDIF `::`, PHP, Ruby). */
const KEY_VALUE = new RegExp(String.raw`(?<![A-Za-z0-9_.-])(\\?["']?)(${NAME})\1([ \t]*(?::{1,2}|=>)[ \t]*)`, 'g')
const KEY_VALUE_BARE = /[^\s,;'"}\]]*/y

function scrubKeyValues(text: string): string {
  return scrubPairs(
    text,
    KEY_VALUE,
    // Lone `key` is no credential here: nft's JSON says {"meta": {"key": "iifname"}}.
    (m) => isCredentialName(m[2], {loneKey: false}),
    (start) => {
      KEY_VALUE_BARE.lastIndex = start
      return start + KEY_VALUE_BARE.exec(text)![0].length
    },
    // `token:abc` without quotes or a space is more likely a scheme or a label than a setting.
    (value, m) => m[1] !== '' || /\s|=>/.test(m[3]) || /^\\?["']/.test(value),
  )
}

/** The name or key attribute of a start tag. */
const NAME_ATTRIBUTE = /\s(?:name|key)\s*=\s*(['"])([^'"<>]*)\1/

/** A start tag that names a credential: its own name (<password>), or a name/key attribute (<qemu:env name='DB_PASSWORD' …>, <entry key="apiToken">). */
function namesCredential(tag: string, element: string): boolean {
  const local = element.slice(element.indexOf(':') + 1)
  if (isCredentialName(local, {loneKey: false})) return true
  const named = NAME_ATTRIBUTE.exec(tag)?.[2]
  return named !== undefined && isCredentialName(named)
}

/** Short options that carry a password for these tools only (-P of ipmitool is a password, of ssh a port): [form, tools, option]. */
const TOOL_OPTIONS: [form: string, tools: string, option: string][] = [
  ['mysql/mariadb -pPASSWORD (attached)', 'mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mysqlpump|mysqlbinlog|mariadb(?:-dump|-admin|-import|-check)?', String.raw`-p(?![\s-])`],
  ['sshpass -p PASSWORD', 'sshpass', String.raw`-p\s*`],
  ['redis-cli -a PASSWORD', 'redis-cli|valkey-cli', String.raw`-a\s+`],
  ['ipmitool, sqlcmd, bcp, zip, unzip -P PASSWORD', 'ipmitool|sqlcmd|bcp|zip|unzip', String.raw`-P\s*`],
  ['ldapsearch and the other OpenLDAP tools -w PASSWORD', 'ldapsearch|ldapmodify|ldapadd|ldapdelete|ldapwhoami|ldappasswd|ldapcompare|ldapmodrdn|ldapexop|ldapurl', String.raw`-w\s+`],
  ['snmpwalk and the other net-snmp tools -c COMMUNITY', String.raw`snmp(?:walk|get|getnext|bulkwalk|bulkget|set|table|trap|df|status|netstat|delta|test)`, String.raw`-c\s*`],
  ['mongo, mongosh, mongodump… -p PASSWORD', 'mongo|mongosh|mongodump|mongorestore|mongoexport|mongoimport|mongostat|mongotop', String.raw`-p\s+`],
  ['docker/podman/helm login -p PASSWORD', String.raw`(?:docker|podman|buildah|skopeo|helm|nerdctl)(?:\s+registry)?\s+login`, String.raw`-p\s+`],
  ['7z -pPASSWORD', '7z|7za|7zr', String.raw`-p(?!\s)`],
  ['openssl -k PASSWORD', 'openssl', String.raw`-k\s+`],
  ['xfreerdp /p:PASSWORD', 'xfreerdp|wlfreerdp|sdl-freerdp', '/p(?:assword)?:'],
  ['rdesktop -p PASSWORD', 'rdesktop', String.raw`-p\s+`],
]

/**
 * Each tool option's pattern matches only where one of its tools is named: a text naming none of them (most
 * command lines, every report line) skips the dozen forms on one test. Their replacements add no tool's name.
 */
const TOOLS = {needs: new RegExp(TOOL_OPTIONS.map(([, tools]) => `(?:${tools})`).join('|'))}

/** What every well-known token format but Telegram's (digits, `:AA`) holds. */
const MAY_HOLD_TOKEN = /AKIA|ASIA|ABIA|ACCA|gh[pousr]_|github_pat|gl[a-z]{1,4}-|xox|xapp|eyJ|AIza|ya29|_live_|_test_|whsec|npm_|pypi-|SG\.|_v1_|hv[sbr]\.|dckr|sk-|hf_|tskey|AGE-|SK[0-9a-f]|key-[0-9a-f]/

/** The credential forms, applied in order. */
export const CREDENTIAL_FORMS: CredentialForm[] = [
  {
    form: 'PEM private key blocks (to the END line, or to the end of the text when cut)', needs: /PRIVATE KEY/,
    pattern: /(-----BEGIN ((?:[A-Z0-9]+ ){0,4})PRIVATE KEY(?: BLOCK)?-----)[\s\S]*?(-----END \2PRIVATE KEY(?: BLOCK)?-----|$)/g,
    replace: (_m, begin, _kind, end) => `${begin}\n${SCRUBBED}\n${end}`,
  },
  {
    form: "libvirt XML: <auth username=…> and <secret uuid=… usage=…> of network disks and encryption", needs: /<(?:auth|secret)/,
    pattern: /<(?:auth|secret)\b[^<>]{0,4096}>/g,
    replace: (element) => element.replace(/\b(username|uuid|usage)=(['"])[^'"<>]*\2/g, `$1=$2${SCRUBBED}$2`),
  },
  {form: 'libvirt XML: <cookie> values of http(s) network disks', needs: /<cookie/, pattern: /(<cookie\b[^<>]{0,1024}>)[^<]{0,65536}(<\/cookie>)/g, replace: `$1${SCRUBBED}$2`},
  {
    form: "XML elements that name a credential: the value attribute and the text of <qemu:env name='DB_PASSWORD' value='…'/>, <property name=\"db.password\" value=…>, <entry key=\"apiToken\">…</entry>, <password>…</password>", needs: /</,
    // Only tags that may name one go to the replacer: a credential word in the tag's name, or a name/key attribute.
    pattern: /<(?=[\w:.-]{0,127}(?:pass|pw|secret|token|key|auth|cred|psk|sig|community)|[\w:.-]{1,128}\s[^<>]{0,4096}?\b(?:name|key)\s*=)([A-Za-z_][\w:.-]{0,127})(\s[^<>]{0,4096})?(\/?)>(?:([^<]{0,65536})(<\/\1>))?/gi,
    replace: (match, element, attrs = '', close, text, end) => {
      const tag = `<${element}${attrs}${close}>`
      if (!namesCredential(tag, element)) return match
      const scrubbedTag = `<${element}${attrs.replace(/(\svalue\s*=\s*)(['"])[^'"<>]*\2/, `$1$2${SCRUBBED}$2`)}${close}>`
      return end === undefined ? scrubbedTag : `${scrubbedTag}${text.trim() === '' || !secretValue(text.trim()) ? text : SCRUBBED}${end}`
    },
  },
  {
    form: 'qemu command line: -object secret,…,data=…', needs: /secret,/,
    pattern: /\bsecret,[^\s]{0,8192}/g,
    replace: (option) => option.replace(/(^secret,|,)data=[^,\s'"]+/g, `$1data=${SCRUBBED}`),
  },
  {
    form: 'qemu JSON: -object {"qom-type":"secret",…,"data":"…"} (either order)', needs: /\{/,
    pattern: /\{[^{}]{0,8192}\}/g,
    replace: (object) => (/"qom-type"\s*:\s*"secret"/.test(object) ? object.replace(/("data"\s*:\s*")(?:[^"\\]|\\.)*(")/g, `$1${SCRUBBED}$2`) : object),
  },
  {form: 'ceph key in a qemu rbd filename (:key=…)', needs: /:key=/, pattern: /(:key=)[^:\s,'"]+/g, replace: `$1${SCRUBBED}`},
  {form: 'bearer tokens (Bearer …)', needs: /bearer/i, pattern: /\b(bearer)\s+(?!SCRUBBED|-)[A-Za-z0-9._~+/-]{8,}=*/gi, replace: `$1 ${SCRUBBED}`},
  {
    form: 'URLs with credentials (scheme://user:password@host, a password holding @ included; iscsi://user%password@host)', needs: /:\/\//,
    pattern: /\b[a-z][a-z0-9+.-]{1,31}:\/\/[^\s'"<>]{1,2048}/gi,
    // The userinfo ends at the authority's last @: a password may hold one.
    replace: (url) => url.replace(/^([^:]+:\/\/[^\s/?#:@%]*[:%])[^\s/?#]*(@)/, `$1${SCRUBBED}$2`),
  },
  {form: 'Slack webhook URLs (hooks.slack.com/services/…)', needs: /hooks\.slack\.com\//, pattern: /(hooks\.slack\.com\/(?:services|workflows|triggers)\/)[A-Za-z0-9/_-]{8,255}/g, replace: `$1${SCRUBBED}`},
  ...TOOL_OPTIONS.map(([form, tools, option]): CredentialForm => ({
    form,
    group: TOOLS,
    // The tool's own command line: not past a shell's ; or | into the next command.
    pattern: new RegExp(String.raw`(\b(?:${tools})\b[^\n;|]{0,4096}?\s${option})(?:"[^"\n]{0,1024}"|'[^'\n]{0,1024}'|[^\s'"]+)`, 'g'),
    replace: `$1${SCRUBBED}`,
  })),
  {form: 'curl/wget -u/--user user:password', needs: /-[uU]/, pattern: /((?:^|\s)(?:-u|-U|--user|--proxy-user)(?:\s+|=)["']?[^\s:'"]{1,256}:)[^\s'"]+/g, replace: `$1${SCRUBBED}`},
  {form: 'samba tools -U user%password (smbclient, net, rpcclient, mount.cifs)', needs: /-[uU]/, pattern: /((?:^|\s)(?:-U|--user(?:name)?)(?:\s+|=)["']?[^\s%'"]{1,256}%)[^\s'"]+/g, replace: `$1${SCRUBBED}`},
  {form: 'lftp -u user,password', needs: /lftp/, pattern: /(\blftp\b[^\n]{0,4096}?\s-u\s+[^\s,]{1,256},)[^\s'"]+/g, replace: `$1${SCRUBBED}`},
  {form: 'openssl -passin/-passout/-pass pass:PASSWORD', needs: /-pass/, pattern: /((?:^|\s)-pass(?:in|out)?\s+pass:)(?:"[^"\n]{0,1024}"|'[^'\n]{0,1024}'|[^\s'"]+)/g, replace: `$1${SCRUBBED}`},
  {form: 'htpasswd -b FILE USER PASSWORD', needs: /htpasswd/, pattern: /(\bhtpasswd\s+(?:-[A-Za-z]+\s+){0,6}?-[A-Za-z]*b[A-Za-z]*\s+(?:-[A-Za-z]+\s+){0,6}\S+\s+\S+\s+)(?:"[^"\n]{0,1024}"|'[^'\n]{0,1024}'|[^\s'"]+)/g, replace: `$1${SCRUBBED}`},
  {form: 'nmcli settings: wifi-sec.psk, *.password, wep-key0…3, pin', needs: /nmcli/, pattern: /(\bnmcli\b[^\n]{0,4096}?\s[\w-]+\.(?:psk|[\w-]*password|wep-key[0-3]|pin|secrets)\s+)(?:"[^"\n]{0,1024}"|'[^'\n]{0,1024}'|[^\s'"]+)/g, replace: `$1${SCRUBBED}`},
  {form: 'command-line flags: --password=…, --password …, --pass, --secret-key, --token, --api-key, --key, --psk, --dbPassword, -Djavax.net.ssl.keyStorePassword=… (quoted values whole)', needs: /-/, scan: scrubFlags},
  {form: 'assignments: PASSWORD=…, DB_PASS=…, secretKey=…, AccountKey=…, _authToken=…, key = … (env, systemd Environment=, config, URL queries, key=value lists split at their next pair)', needs: /=/, scan: scrubAssignments},
  {form: 'key: value and key => value forms: "password": "…" (JSON, escaped JSON too), password: … (YAML, logs, LDIF ::), \'password\' => \'…\' (PHP, Ruby)', needs: /[:=]/, scan: scrubKeyValues},
  {
    form: 'configuration directives: requirepass, masterauth, bindpw, rootpw, rocommunity/rwcommunity, com2sec (redis, LDAP, kickstart, snmpd)', needs: /requirepass|masterauth|bindpw|rootpw|community|com2sec/i,
    pattern: /(?<![\w.-])((?:requirepass|masterauth|bindpw|rootpw|rocommunity6?|rwcommunity6?|com2sec6?[ \t]+\S{1,256}[ \t]+\S{1,256})[ \t]+)(?!-)(?:"[^"\n]{0,1024}"|'[^'\n]{0,1024}'|[^\s'"]+)/gi,
    replace: `$1${SCRUBBED}`,
  },
  {form: 'netrc: machine HOST login USER password PASSWORD', needs: /login/, pattern: /(\blogin\s+\S{1,256}\s+password\s+)\S+/g, replace: `$1${SCRUBBED}`},
  {form: 'ipsec.secrets: : PSK "…", XAUTH, EAP, PIN', needs: /:/, pattern: /(:\s*(?:PSK|XAUTH|EAP|NTLM|PIN)\s+)(?:"[^"\n]{0,1024}"|'[^'\n]{0,1024}'|0s[A-Za-z0-9+/=]{1,4096}|0x[0-9a-fA-F]{1,4096})/g, replace: `$1"${SCRUBBED}"`},
  {form: 'ISC dhcpd / bind key blocks: secret "…";', needs: /secret/, pattern: /\b(secret)(\s+)"[^"\n]{0,4096}"/g, replace: `$1$2"${SCRUBBED}"`},
  {form: 'ISC dhcpd / bind key blocks: secret BASE64;', needs: /secret/, pattern: /\b(secret)(\s+)(?!SCRUBBED)[A-Za-z0-9+/=]{8,}(\s*;)/g, replace: `$1$2${SCRUBBED}$3`},
  {form: "SQL: IDENTIFIED BY '…'", needs: /identified/i, pattern: /\b(identified\s+by\s+(?:password\s+)?)(?:'[^'\n]{0,1024}'|"[^"\n]{0,1024}")/gi, replace: `$1'${SCRUBBED}'`},
  {
    form: 'password hashes of crypt(3): $1$, $5$, $6$ (rounds= too), $y$, $gy$, $2b$ (bcrypt), $apr1$', needs: /\$/,
    pattern: /(\$(?:1|5|6|md5|sha1|apr1|g?y|2[abxy]?)\$)(?:rounds=\d{1,9}\$)?[./A-Za-z0-9]{1,64}(?:\$[./A-Za-z0-9]{1,64})?\$[./A-Za-z0-9]{16,512}|(\$2[abxy]?\$)\d\d\$[./A-Za-z0-9]{53}/g,
    replace: (_m, crypt, bcrypt) => `${crypt ?? bcrypt}${SCRUBBED}`,
  },
  {
    form: 'well-known token formats: AWS access key ids, GitHub (classic and fine-grained), GitLab, Slack, JWTs, Google API and OAuth, Stripe, npm, PyPI, SendGrid, DigitalOcean, Vault, Docker, OpenAI, Anthropic, Hugging Face, Tailscale, Telegram, age, Twilio, Mailgun', needs: new RegExp(`${MAY_HOLD_TOKEN.source}|:AA`),
    pattern: new RegExp(
      String.raw`\b(?:(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255}|gl(?:pat|dt|rt|ptt|cbt|ft|imt|oas|soat)-[A-Za-z0-9_-]{20,255}|xox[abposr]-[A-Za-z0-9-]{10,255}|xapp-\d-[A-Za-z0-9-]{10,255}` +
        String.raw`|eyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{8,4096}|AIza[0-9A-Za-z_-]{35}|ya29\.[0-9A-Za-z_-]{20,2048}|(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,255}|whsec_[A-Za-z0-9]{24,255}` +
        String.raw`|npm_[A-Za-z0-9]{36}|pypi-[A-Za-z0-9_-]{50,1024}|SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}|do[por]_v1_[a-f0-9]{64}|hv[sbr]\.[A-Za-z0-9_-]{24,255}|dckr_pat_[A-Za-z0-9_-]{20,255}` +
        String.raw`|sk-(?:proj-|ant-(?:api|admin)\d\d-)?[A-Za-z0-9_-]{20,255}|hf_[A-Za-z0-9]{30,64}|tskey-(?:auth|api|client|webhook)-[A-Za-z0-9-]{10,255}|\d{8,10}:AA[A-Za-z0-9_-]{33}|AGE-SECRET-KEY-1[0-9A-Z]{58}|SK[0-9a-f]{32}|key-[0-9a-f]{32})\b`,
      'g',
    ),
    replace: SCRUBBED,
  },
  // Last: it takes the rest of the line, which would hide the context other forms need.
  {
    form: 'HTTP credential headers: Authorization, Proxy-Authorization, Cookie, X-Auth-Token, X-API-Key, X-Vault-Token', needs: /authorization|cookie|x-auth-token|x-api-key|x-vault-token/i,
    // Not an OpenFlow flow's cookie (`ovs-ofctl dump-flows`: "cookie=0x0, duration=..."): a number, and the flow after it.
    pattern: /\b((?:proxy-)?authorization|cookie|set-cookie|x-auth-token|x-api-key|x-vault-token)(\s*[:=]\s*)(?!0x[0-9a-f]{1,16}(?:\/0x[0-9a-f]{1,16})?,\s)(?:(basic|bearer|digest|token|negotiate)\s+)?[^\s'"][^\n'"]{0,4096}/gi,
    replace: (_m, header, sep, scheme) => `${header}${sep}${scheme ? `${scheme} ` : ''}${SCRUBBED}`,
  },
]

/**
 * What every form above needs at least one of: `=`, `:`, `<`, `{`, `$`, `%`, a dash or slash
 * opening a word, or one of a few keywords or token prefixes. A text with none of them (most
 * names and values) skips the table.
 */
const MAY_HOLD_CREDENTIAL = /[=:<{$%]|(?:^|[\s'"(\[,])[-/]|secret|bearer|identified|requirepass|masterauth|bindpw|rootpw|community|com2sec|password|nmcli/i

/** Removes every credential form of the table from a text. Idempotent. */
export function scrubText(text: string): string {
  if (!MAY_HOLD_CREDENTIAL.test(text) && !MAY_HOLD_TOKEN.test(text)) return text
  let out = text
  // The group being applied, and whether the text holds nothing its forms need (then they are skipped).
  let group: CredentialForm['group']
  let groupAbsent = false
  for (const form of CREDENTIAL_FORMS) {
    if (form.group === undefined) group = undefined
    else {
      if (form.group !== group) {
        group = form.group
        groupAbsent = !group.needs.test(out)
      }
      if (groupAbsent) continue
    }
    if (form.needs !== undefined && !form.needs.test(out)) continue
    if ('scan' in form) {
      out = form.scan(out)
      continue
    }
    const {pattern, replace} = form
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

/** A string under a JSON key named like a credential ({"dbPassword": "…"}): its whole value goes. */
const IN_KEYS = {loneKey: false}
const credentialField = (key: string, value: unknown) => typeof value === 'string' && isCredentialName(key, IN_KEYS) && secretValue(value)

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
    for (const k in v) {
      if (!Object.hasOwn(v, k)) continue
      const item = (v as Record<string, unknown>)[k]
      out[k] = credentialField(k, item) ? SCRUBBED : walk(item)
    }
    return out
  }
  return walk(value) as T
}

/**
 * Every string inside a value passed through `f`, copying only what changes: an object or array
 * none of whose strings change is returned as it is (a report of a big host is mostly strings no
 * transform touches, and copying all of it was most of a text report's cost). Objects met twice get
 * one result. `f` must be pure: each distinct short string is transformed once. With `scrubKeys`,
 * a string under a key named like a credential is replaced whole, as scrubDeep does.
 */
export function mapStringsDeep<T>(value: T, f: (text: string) => string, options: {scrubKeys?: boolean} = {}): T {
  return stringMapper(f, options)(value)
}

/**
 * mapStringsDeep as a function of the value, for values that share strings and objects (a report's diagnosis and
 * its topology, which repeats every guest's flows): what one call transformed, the next reuses.
 */
export function stringMapper(f: (text: string) => string, options: {scrubKeys?: boolean} = {}): <T>(value: T) => T {
  const seen = new WeakMap<object, unknown>()
  const transform = memoized(f)
  const field = (key: string, item: unknown) => (options.scrubKeys && credentialField(key, item) ? transform(SCRUBBED) : walk(item))
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
        const item = field(k, source[k])
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
  return <T>(value: T) => walk(value) as T
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
