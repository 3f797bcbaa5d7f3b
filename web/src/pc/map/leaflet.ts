// Leaflet with Geoman, bundled by Vite (nothing from a CDN).
//
// Geoman is a plain script that extends the global `L`. The ES module namespace of `leaflet` is
// read-only, so the global is a mutable copy of it; the classes (Map, Layer, …) are the same
// objects, so Geoman's hooks apply to every map made through this module.

import * as Leaflet from 'leaflet'
import 'leaflet/dist/leaflet.css'
import markerIcon from 'leaflet/dist/images/marker-icon.png'
import markerIcon2x from 'leaflet/dist/images/marker-icon-2x.png'
import markerShadow from 'leaflet/dist/images/marker-shadow.png'

const L = { ...Leaflet } as typeof Leaflet
;(globalThis as unknown as { L: typeof Leaflet }).L = L

// Leaflet finds its marker images through a CSS url that Vite rewrites: give it the bundled ones.
delete (L.Icon.Default.prototype as unknown as { _getIconUrl?: unknown })._getIconUrl
L.Icon.Default.mergeOptions({ iconUrl: markerIcon, iconRetinaUrl: markerIcon2x, shadowUrl: markerShadow })

export default L
