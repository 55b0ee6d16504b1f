/**
 * The expectations file (kvmdoctor.yaml): what must hold before a deploy.
 * Read and validated here; src/derive/expectations.ts sets it beside the
 * host's facts, and the expect-* rules judge each expectation.
 */
import type {z as Z} from 'zod'
import {loadYamlFile} from './config-file.js'
import {parseCidr} from '../lib/ipv4.js'

/** The file's schema, built when there is a file to read: zod loads only then. */
function expectationsSchema(z: typeof Z) {
  const cidr = z.string().refine((s) => parseCidr(s) !== undefined && s.includes('/'), 'subnet must be an IPv4 prefix like 192.168.122.0/24')
  return z.strictObject({
    networks: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          active: z.boolean().default(true),
          autostart: z.boolean().optional(),
          minFreeLeases: z.number().int().nonnegative().optional(),
        }),
      )
      .default([]),
    guests: z.array(z.strictObject({name: z.string().min(1), subnet: cidr})).default([]),
    forwarding: z.boolean().optional(),
  })
}

export type Expectations = Z.infer<ReturnType<typeof expectationsSchema>>

export async function loadExpectations(path: string): Promise<Expectations> {
  return loadYamlFile(path, expectationsSchema((await import('zod')).z), 'expectations file')
}
