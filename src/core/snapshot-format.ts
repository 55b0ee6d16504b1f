/** The snapshot format's name, version and capture error codes: what the manifest and its schema share. */
export const SNAPSHOT_FORMAT = 'kvmdoctor-snapshot'
export const SNAPSHOT_FORMAT_VERSION = 1
/** Why a capture holds no output (the manifest's errorCode). */
export const ERROR_CODES = ['not-found', 'permission-denied', 'timeout', 'exit-status', 'too-large', 'not-recorded', 'failed'] as const
