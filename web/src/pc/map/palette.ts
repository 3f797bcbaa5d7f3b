// Colours of the map's shapes: one per kind (or level), stable for a key; and the two colours of
// the business-line view (carries the line or not).
import type { ShapeStyle } from '../components/LeafletMap.vue'
import { gridKinds, KNOWN_KINDS } from '@/shared/meta'

const PALETTE = [
  '#5b8ff9',
  '#5ad8a6',
  '#f6bd16',
  '#e8684a',
  '#6dc8ec',
  '#9270ca',
  '#ff9d4d',
  '#269a99',
  '#ff99c3',
  '#a0a7b4',
]

function hash(s: string): number {
  let h = 0
  for (const ch of s) h = (h * 31 + (ch.codePointAt(0) ?? 0)) >>> 0
  return h
}

/** The grid kinds of /api/v1/meta and the administrative kinds get distinct colours in order. */
function indexOf(key: string): number {
  const keys = [...gridKinds().map((k) => k.key), ...KNOWN_KINDS]
  const i = keys.indexOf(key)
  return i >= 0 ? i : hash(key)
}

export function colorOf(key: string): ShapeStyle {
  const fill = PALETTE[indexOf(key) % PALETTE.length]
  return { color: '#2b3a4a', fillColor: fill }
}

export const LINE_ON: ShapeStyle = { color: '#135200', fillColor: '#52c41a', fillOpacity: 0.55 }
export const LINE_OFF: ShapeStyle = { color: '#8c8c8c', fillColor: '#d9d9d9', fillOpacity: 0.35 }
