export interface FileEdge {
  from: string
  to: string
  typeOnly: boolean
}
export interface AreaEdge {
  from: string
  to: string
  runtime: number
  typeOnly: number
}
export const ROOT: string
export function areaOf(file: string): string
export function fileEdges(): FileEdge[]
export function areaEdges(edges?: FileEdge[]): AreaEdge[]
