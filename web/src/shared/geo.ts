// Small geometry helpers for the pages that draw boundaries without Leaflet (the printable board).

import type { BoundaryGeometry } from './types'

type Ring = number[][]

/** The polygons of a Polygon or MultiPolygon, each a list of rings of [lng, lat]. */
export function polygonsOf(g: BoundaryGeometry): Ring[][] {
  return g.type === 'Polygon' ? [g.coordinates as Ring[]] : (g.coordinates as Ring[][])
}

export interface SvgShape {
  /** the `d` attribute of one <path> (all rings; use fill-rule="evenodd") */
  d: string
  viewBox: string
}

/**
 * Projects a boundary into an SVG box of `width` × `height` (plate carrée with the longitude scaled
 * by cos(latitude), good enough for a grid of a few km²), keeping the aspect ratio.
 */
export function svgShape(g: BoundaryGeometry, width: number, height: number, pad = 8): SvgShape {
  const polys = polygonsOf(g)
  let minX = Infinity
  let minY = Infinity
  let maxX = -Infinity
  let maxY = -Infinity
  for (const poly of polys) {
    for (const ring of poly) {
      for (const [x, y] of ring) {
        minX = Math.min(minX, x)
        maxX = Math.max(maxX, x)
        minY = Math.min(minY, y)
        maxY = Math.max(maxY, y)
      }
    }
  }
  const kx = Math.cos((((minY + maxY) / 2) * Math.PI) / 180)
  const w = Math.max((maxX - minX) * kx, 1e-9)
  const h = Math.max(maxY - minY, 1e-9)
  const scale = Math.min((width - 2 * pad) / w, (height - 2 * pad) / h)
  const offX = (width - w * scale) / 2
  const offY = (height - h * scale) / 2
  const px = (x: number) => (offX + (x - minX) * kx * scale).toFixed(1)
  const py = (y: number) => (offY + (maxY - y) * scale).toFixed(1)
  const parts: string[] = []
  for (const poly of polys) {
    for (const ring of poly) {
      if (!ring.length) continue
      parts.push(`M${ring.map(([x, y]) => `${px(x)},${py(y)}`).join('L')}Z`)
    }
  }
  return { d: parts.join(''), viewBox: `0 0 ${width} ${height}` }
}
