/**
 * The snapshot manifest's schema (docs/snapshot-format.md). Loaded only when a
 * manifest is not one kvmdoctor wrote as it writes them (see wellFormedManifest
 * in snapshot.ts): zod and its locales are a tenth of a second of start-up.
 */
import {z} from 'zod'
import {ERROR_CODES, SNAPSHOT_FORMAT, SNAPSHOT_FORMAT_VERSION} from './snapshot-format.js'

export const captureEntry = z.object({
  kind: z.enum(['command', 'file', 'dir']),
  argv: z.array(z.string()).min(1).optional(),
  path: z.string().optional(),
  file: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  durationMs: z.number().nonnegative(),
  startMs: z.number().nonnegative().optional(),
  truncated: z.boolean(),
  exitCode: z.number().int().nullable().optional(),
  timedOut: z.boolean().optional(),
  stderr: z.string().optional(),
  error: z.string().optional(),
  errorCode: z.enum(ERROR_CODES).optional(),
})

export const manifestSchema = z.object({
  format: z.literal(SNAPSHOT_FORMAT),
  formatVersion: z.literal(SNAPSHOT_FORMAT_VERSION),
  kvmdoctorVersion: z.string(),
  capturedAt: z.iso.datetime(),
  host: z.string().optional(),
  kernel: z.string().optional(),
  libvirtVersion: z.string().optional(),
  /** Probe options of the recording run, so a replay asks for exactly what was recorded. */
  options: z.object({active: z.boolean(), libvirtUri: z.string(), internet: z.string().optional(), listen: z.number().int().positive().optional()}).optional(),
  captures: z.array(captureEntry),
})

export type SnapshotManifest = z.infer<typeof manifestSchema>
export type ManifestEntry = z.infer<typeof captureEntry>
