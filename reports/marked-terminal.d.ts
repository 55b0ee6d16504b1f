// marked-terminal ships no types; @types/marked-terminal pins an old marked.
declare module 'marked-terminal' {
  import type {MarkedExtension} from 'marked'
  export function markedTerminal(options?: Record<string, unknown>, highlightOptions?: Record<string, unknown>): MarkedExtension
}
