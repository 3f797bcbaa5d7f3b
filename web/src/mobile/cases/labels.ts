// Names of states, actions, ratings and the like in the current language; states and actions
// are named as in the back office (cases namespace), the rest in the mcases namespace. An unknown
// key shows as itself.

import { i18n, t } from '@/shared/i18n'

function named(group: string, key: string | null | undefined, ns = 'mcases'): string {
  if (!key) return ''
  const k = `${ns}.${group}.${key}`
  return i18n.global.te(k, 'zh-CN') ? t(k) : key
}

export const stateName = (s: string | null | undefined) => named('states', s, 'cases')
export const actionName = (a: string | null | undefined) => named('actions', a, 'cases')
export const ratingName = (r: string | null | undefined) => named('ratings', r)
export const alertName = (a: string | null | undefined) => named('alerts', a)
export const channelName = (c: string | null | undefined) => named('channels', c)
export const assignmentStatusName = (s: string | null | undefined) => named('assignmentStatus', s)
/** A step of the public timeline, in words for the resident. */
export const publicStepName = (a: string | null | undefined) =>
  a && i18n.global.te(`mcases.track.steps.${a}`, 'zh-CN') ? t(`mcases.track.steps.${a}`) : actionName(a)

type TagType = 'primary' | 'success' | 'warning' | 'danger' | 'default'

/** The colour of a state's tag. */
export function stateTagType(s: string): TagType {
  switch (s) {
    case 'closed':
    case 'rated':
      return 'success'
    case 'rework':
    case 'not_filed':
    case 'voided':
      return 'danger'
    case 'parked':
    case 'deferred':
    case 'handled':
    case 'in_check':
      return 'warning'
    default:
      return 'primary'
  }
}

export function alertTagType(a: string): TagType {
  if (a === 'breached') return 'danger'
  if (a === 'half' || a === 'three_quarters') return 'warning'
  return 'default'
}

/** Who took a step: staff by name; residents and the platform by what they are. */
export function actorName(e: { actor_name: string; party: string }): string {
  if (e.party === 'resident' || e.party === 'system') return named('parties', e.party)
  return e.actor_name
}
