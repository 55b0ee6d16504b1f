/**
 * The part of the JSON report (docs/schemas/report.schema.json) the fleet view reads, as a zod schema:
 * loaded only for a report that fleet.ts's plain check refuses, to say which field is wrong.
 */
import {z} from 'zod'
import {SEVERITIES, type Severity} from '../lib/severity.js'

const severity = z.enum(SEVERITIES)
const entity = z.object({kind: z.string(), name: z.string()})

export const reportSchema = z.object({
  reportVersion: z.number().int(),
  version: z.string(),
  host: z.string(),
  capturedAt: z.string(),
  counts: z.object(Object.fromEntries(SEVERITIES.map((s) => [s, z.number().int().min(0)])) as Record<Severity, z.ZodNumber>),
  findings: z.array(
    z.object({
      id: z.string(),
      severity,
      entity,
      title: z.string(),
      context: z.record(z.string(), z.string()).optional(),
      explainedBy: z.string().optional(),
    }),
  ),
  notChecked: z.array(z.object({ruleId: z.string(), entity: entity.nullable(), reason: z.string()})),
  probes: z.array(z.object({id: z.string(), ok: z.boolean(), skipped: z.boolean().optional(), error: z.string().optional()})),
})
