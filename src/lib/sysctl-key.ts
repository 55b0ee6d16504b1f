/**
 * A device's sysctl key as sysctl(8) and sysctl.d(5) read it. The key's dots are /proc/sys's path separators, so a
 * dot in the device's name (a VLAN device eth0.100) is written '/': net.ipv4.conf.eth0/100.forwarding is
 * /proc/sys/net/ipv4/conf/eth0.100/forwarding, where net.ipv4.conf.eth0.100.forwarding names a file that is not there.
 * Every key kvmdoctor builds for a device is this one, so its evidence and its fixes name what sysctl -w takes.
 */
export const deviceKey = (family: 'ipv4' | 'ipv6', device: string, name: string) => `net.${family}.conf.${device.replaceAll('.', '/')}.${name}`

/** The /proc/sys file of a key in sysctl(8)'s form: its dots are separators, its slashes the dots of a name. */
export const sysctlPath = (key: string) => `/proc/sys/${key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'))}`
