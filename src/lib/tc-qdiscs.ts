/** Queueing disciplines that only queue or shape: deleting one leaves the device's default qdisc, and filters nothing out. */
export const SHAPING_QDISCS: ReadonlySet<string> = new Set(['htb', 'tbf', 'pfifo', 'bfifo', 'hfsc', 'sfq', 'fq_codel', 'netem', 'cake', 'red', 'codel'])
