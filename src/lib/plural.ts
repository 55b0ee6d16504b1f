/** "1 guest", "3 guests": a count with its noun, never "guest(s)". */
export const plural = (n: number, word: string, many = `${word}s`): string => `${n} ${n === 1 ? word : many}`
