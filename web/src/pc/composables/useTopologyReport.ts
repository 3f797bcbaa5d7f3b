// Topology reports (boundary checks): recognising them in API errors, and their texts.
// Used by every page that sends boundaries: the boundary import, drawing a grid, grid changes.

import { computed, ref } from 'vue'
import { ApiError, enc } from '@/shared/api'
import { pick, t } from '@/shared/i18n'
import type { TopologyProblem, TopologyReport } from '@/shared/types'

/** The API errors whose `details` is a topology report. */
export const REPORT_ERRORS = ['topology_invalid', 'topology_warnings', 'boundary_import_rejected'] as const
export type ReportError = (typeof REPORT_ERRORS)[number]

function isReport(x: unknown): x is TopologyReport {
  return !!x && typeof x === 'object' && Array.isArray((x as TopologyReport).problems)
}

export function useTopologyReport() {
  const report = ref<TopologyReport | null>(null)
  /** the error code that brought the report */
  const reason = ref<ReportError | null>(null)
  /** warnings only: the user may resend with accept_warnings */
  const canAccept = computed(() => reason.value === 'topology_warnings')

  /** Keeps the report of a topology error; false when `e` is some other error. */
  function capture(e: unknown): boolean {
    if (e instanceof ApiError && (REPORT_ERRORS as readonly string[]).includes(e.code) && isReport(e.details)) {
      report.value = e.details
      reason.value = e.code as ReportError
      return true
    }
    return false
  }

  function clear() {
    report.value = null
    reason.value = null
  }

  return { report, reason, canAccept, capture, clear }
}

export function problemKindText(kind: string): string {
  const key = `problemKinds.${kind}`
  const s = t(key)
  return s === key ? kind : s
}

/** The problem's own message in the current language (`message_zh` in Chinese). */
export function problemMessage(p: TopologyProblem): string {
  return pick(p.message_zh, p.message)
}

export function reportJsonUrl(id: string): string {
  return `/api/v1/topology-reports/${enc(id)}`
}

export function reportGeojsonUrl(id: string): string {
  return `/api/v1/topology-reports/${enc(id)}/geojson`
}
