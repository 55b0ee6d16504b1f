/**
 * Credentials that must never leave the host, whatever the user asks for:
 * scrubbed from every capture before a snapshot or bundle is written.
 */

export const SCRUBBED = 'SCRUBBED'

const PATTERNS: [RegExp, string][] = [
  // libvirt domain XML: graphics/VNC/SPICE passwords (only present with --security-info, scrubbed anyway)
  [/\b(passwd|password)=(['"])[^'"]*\2/gi, `$1=$2${SCRUBBED}$2`],
  // ISC dhcpd.conf / bind-style key blocks: secret "base64";
  [/\b(secret)(\s+)"[^"]*"/g, `$1$2"${SCRUBBED}"`],
  [/\b(secret)(\s+)([A-Za-z0-9+/=]{8,})(\s*;)/g, `$1$2${SCRUBBED}$4`],
  // command lines: --password=x, --secret x, token=..., key=... (ps output)
  [/(--?(?:password|passwd|secret|token|api-?key|auth-?key)[=\s])(\S+)/gi, `$1${SCRUBBED}`],
  [/\b((?:password|passwd|secret|token|apikey|api_key)=)([^\s&'"]+)/gi, `$1${SCRUBBED}`],
]

/** <auth username=...> and <secret uuid=... usage=...> of network disks and encryption: every such attribute. */
const ELEMENT = /<(auth|secret)\b[^>]*>/g
const ELEMENT_ATTRIBUTE = /\b(username|uuid|usage)=(['"])[^'"]*\2/g

export function scrubSecrets(text: string): string {
  let out = text.replace(ELEMENT, (element) => element.replace(ELEMENT_ATTRIBUTE, `$1=$2${SCRUBBED}$2`))
  for (const [re, replacement] of PATTERNS) out = out.replace(re, replacement)
  return out
}
