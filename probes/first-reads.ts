/**
 * Commands every live diagnose runs, whatever the host, before anything another read prints is known: their words
 * live here, apart from the probes' parsers, so that a live run can start them as it starts (src/core/early-probes.ts),
 * while the probes' code loads; the probe asking for one then takes that run. The probes read them from here too.
 */

/** The three listings the libvirt probe asks virsh for, each as its arguments. */
export const VIRSH_LISTING_ARGS = [['net-list', '--all'], ['list', '--all'], ['list', '--all', '--autostart', '--name']]
/** The listings as one virsh argument: virsh runs a `;`-separated list of its commands given as one word (no shell). */
export const VIRSH_LISTINGS = VIRSH_LISTING_ARGS.map((l) => l.join(' ')).join(' ; ')
/** virsh, read-only, on the connection the run names. */
export const virshArgv = (libvirtUri: string, ...args: string[]): string[] => ['virsh', '-r', '-c', libvirtUri, ...args]

export const IP_ADDR = ['ip', '-j', '-d', 'addr', 'show']
/** `table all` lists the routes of every family (the routes6 probe takes its IPv6 rows). */
export const IP_ROUTES = ['ip', '-j', 'route', 'show', 'table', 'all']
export const IP_RULES = ['ip', '-j', 'rule', 'show']
export const IP6_RULES = ['ip', '-6', '-j', 'rule', 'show']
export const IP_NEIGH = ['ip', '-j', 'neigh', 'show']

/** What a live run starts first: virsh (it waits on libvirtd, and other probes wait on its facts) and the link layer's reads. */
export const firstCommands = (libvirtUri: string): string[][] => [virshArgv(libvirtUri, VIRSH_LISTINGS), IP_ADDR, IP_ROUTES, IP_RULES, IP6_RULES, IP_NEIGH]
