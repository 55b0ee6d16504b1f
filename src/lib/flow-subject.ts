/** Who a flow is for, in words: its guest, or what a forward without one points at. Never an empty name. */
export const flowSubject = (f: {guest: string; unheldTarget?: string}): string => f.guest || (f.unheldTarget ?? 'no guest')
