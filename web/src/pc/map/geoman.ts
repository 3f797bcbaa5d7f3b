// Geoman (drawing, editing, cutting) on top of ./leaflet, which must be evaluated first.
import L from './leaflet'
import '@geoman-io/leaflet-geoman-free'
import '@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css'
import { t } from '@/shared/i18n'

/** Geoman's own hints (the tooltips while drawing), in the app's language. */
export function applyGeomanLang(map: L.Map): void {
  map.pm.setLang(
    'en',
    {
      tooltips: {
        firstVertex: t('draw.firstVertex'),
        continueLine: t('draw.continueLine'),
        finishPoly: t('draw.finishPoly'),
      },
      actions: { finish: t('draw.finish'), cancel: t('draw.cancel'), removeLastVertex: t('draw.removeLastVertex') },
    },
    'en',
  )
}

export default L
