/** The published JSON Schemas (docs/schemas/), compiled with ajv for draft 2020-12. */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {Ajv2020} from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import {ROOT} from './helpers.js'

// ajv-formats is CommonJS: its default export is the function under ESM interop.
const addFormats = ((addFormatsModule as unknown as {default?: typeof addFormatsModule}).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => void
const ajv = new Ajv2020({strict: true, allErrors: true})
addFormats(ajv)
const schema = (name: string) => ajv.compile(JSON.parse(readFileSync(join(ROOT, 'docs/schemas', `${name}.schema.json`), 'utf8')))

export const SCHEMAS = {report: schema('report'), ip: schema('ip'), trace: schema('trace'), rules: schema('rules'), error: schema('error'), fleet: schema('fleet')}
export const problems = (v: (typeof SCHEMAS)[keyof typeof SCHEMAS]) => JSON.stringify(v.errors?.slice(0, 3))
