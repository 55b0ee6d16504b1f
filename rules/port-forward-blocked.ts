import {DATAPATH_REQUIRES, forwardAccept} from './datapath.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'port-forward-blocked',
  severity: 'high',
  scope: 'forward',
  title: 'The published port {name} does not reach {context.domain}: {outsideHop}',
  requires: DATAPATH_REQUIRES,
  // The round trip from outside fails, and not because the target is nobody's or a hook's rules are gone (their own findings).
  conditions: {
    all: [
      {fact: 'entity', path: 'outsideVerdict', operator: 'equal', value: 'fail'},
      {fact: 'entity', path: 'elementKind', operator: 'notIn', value: ['dnat-target', 'hook-lost']},
    ],
  },
  derive: (e, host) => {
    const {fix, note} = forwardAccept(e, host)
    return {acceptFix: fix, acceptNote: note}
  },
  summary: 'A connection from outside to {proto} port {port} is meant for {targetAddress}:{targetPort} ({context.domain}), but its {outsideFlow} flow stops at {outsideHop}: {outsideDetail}. A NAT network admits only replies from outside; a forward needs an accept of its own, ahead of what rejects it.',
  evidence: ['decided by: {elementText}', 'forward found in: {foundBy}', '{rules}', '{flows}', 'assumes: {assumptions}'],
  fix: ['{acceptFix}'],
  note: ['{acceptNote}', 'check: kvmdoctor trace --inbound {port}/{proto}'],
}
