// What the signed-in user is to the case loop, from their grants (engine.rs GRID_ROLES and
// CENTRE_ROLES); department membership is not in the session, the server answers by it.

import { computed } from 'vue'
import { me } from '@/shared/session'
import type { Grant } from '@/shared/types'

export const GRID_ROLES = ['grid_head', 'grid_worker_full', 'grid_worker_part', 'grid_instructor', 'micro_grid_head']
export const CENTRE_ROLES = ['center_operator', 'center_leader']

export const gridGrants = computed<Grant[]>(() =>
  (me.value?.grants ?? []).filter((g) => GRID_ROLES.includes(g.role) && g.unit_code),
)
export const centreGrants = computed<Grant[]>(() =>
  (me.value?.grants ?? []).filter((g) => CENTRE_ROLES.includes(g.role) && g.unit_code),
)

/** Grid staff report on the phone (channel "grid"). */
export const canReport = computed(() => gridGrants.value.length > 0)

export type View = 'to_handle' | 'centre' | 'to_check' | 'reported'

/** The work lists this user has. */
export const views = computed<View[]>(() => {
  const grid = gridGrants.value.length > 0
  const centre = centreGrants.value.length > 0
  const out: View[] = []
  if (grid || !centre) out.push('to_handle')
  if (centre) out.push('centre')
  if (grid) out.push('to_check')
  out.push('reported')
  return out
})
