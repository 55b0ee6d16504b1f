export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const
export type Severity = (typeof SEVERITIES)[number]
export type FailOn = Severity | 'none'

/** Higher is worse. */
export const severityWeight = (s: Severity): number => SEVERITIES.length - SEVERITIES.indexOf(s)

export function atOrAbove(s: Severity, threshold: FailOn): boolean {
  return threshold !== 'none' && severityWeight(s) >= severityWeight(threshold)
}
