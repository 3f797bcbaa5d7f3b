// Shared pieces of the PC case pages: names of states, actions and the like (the `cases` locale
// namespace), the catalogue and department register (loaded once, reloaded after edits), the unread
// notification count, client ids and media uploads.

import { ref } from 'vue'
import './CaseStyle.css'
import { ApiError, api, qs } from '@/shared/api'
import { i18n, pick, t } from '@/shared/i18n'
import { meta } from '@/shared/meta'
import { me } from '@/shared/session'
import type {
  Case,
  CaseAction,
  CaseAlert,
  CaseDetail,
  CaseMedia,
  CaseState,
  Catalogue,
  Category,
  CategoryQuestion,
  CaseStep,
  Department,
  NotificationPage,
} from '@/shared/types'

export const CASE_STATES: CaseState[] = [
  'draft',
  'reported',
  'accepted',
  'filed',
  'not_filed',
  'dispatched',
  'in_handling',
  'handled',
  'in_check',
  'rework',
  'closed',
  'rated',
  'parked',
  'deferred',
  'voided',
]

/** Every channel a case may have come through. */
export const CHANNELS = ['grid', 'resident', 'hotline', 'assigned', 'lower', 'api', 'errand'] as const
/** The channels an operator reports through on the intake form. */
export const INTAKE_CHANNELS = ['hotline', 'assigned', 'lower', 'errand'] as const
export const NATURES = ['demand', 'complaint', 'inquiry', 'suggestion', 'thanks'] as const
export const RATINGS = ['satisfied', 'basically_satisfied', 'unsatisfied'] as const
export const ERRAND_KINDS = ['immediate', 'promised', 'supplement', 'joint', 'report_up', 'approval'] as const
export const STAGES = ['accept', 'dispatch', 'receive', 'handle', 'check'] as const
export const QUESTION_TYPES = ['string', 'number', 'datetime', 'text', 'single', 'multi', 'bool'] as const

/** The translation of `prefix.key`, or the key itself when there is none. */
export function tr(prefix: string, key: string | null | undefined): string {
  if (!key) return ''
  const k = `${prefix}.${key}`
  return i18n.global.te(k, 'zh-CN') ? t(k) : key
}

export const stateName = (s: string | null | undefined) => tr('cases.states', s)
export const actionName = (a: string | null | undefined) => tr('cases.actions', a)
export const channelName = (c: string | null | undefined) => tr('cases.channels', c)
export const natureName = (n: string | null | undefined) => tr('cases.natures', n)
export const ratingName = (r: string | null | undefined) => tr('cases.ratings', r)
export const partyName = (p: string | null | undefined) => tr('cases.parties', p)
export const stageName = (s: string | null | undefined) => tr('cases.stages', s)
export const alertName = (a: string | null | undefined) => tr('cases.alerts', a)
export const assignmentStatusName = (s: string | null | undefined) => tr('cases.assignmentStatus', s)
export const errandKindName = (k: string | null | undefined) => tr('cases.errandKinds', k)

/** Element Plus tag type of a state. */
export function stateTagType(s: CaseState): 'primary' | 'success' | 'info' | 'warning' | 'danger' {
  switch (s) {
    case 'closed':
    case 'rated':
      return 'success'
    case 'not_filed':
    case 'voided':
    case 'draft':
      return 'info'
    case 'rework':
      return 'danger'
    case 'parked':
    case 'deferred':
      return 'warning'
    default:
      return 'primary'
  }
}

/** The CSS class of a deadline by its warning level (see style in the pages). */
export function alertClass(a: CaseAlert | null | undefined): string {
  return `case-alert-${a ?? 'on_time'}`
}

/** Whether the case is at an end (closed, rated, not filed, voided). */
export function isFinished(c: Pick<Case, 'state'>): boolean {
  return ['closed', 'rated', 'not_filed', 'voided'].includes(c.state)
}

/** The actions whose dialog needs a note (the server refuses them without one). */
export const NOTE_REQUIRED: CaseAction[] = [
  'handle_on_spot',
  'review',
  'not_file',
  'escalate',
  'return',
  'transfer',
  'report_result',
  'check_fail',
  'request_extension',
  'park',
  'defer',
  'void',
  'supervise',
]

/** Takes a step; the answer is the case as it is now. Errors are left to the caller (silent). */
export function postAction(id: number, action: CaseAction, step: CaseStep): Promise<CaseDetail> {
  return api.post<CaseDetail>(`/api/v1/cases/${id}/actions/${action}`, step, { silent: true })
}

/** Working minutes as "N h" / "N d" text (a working day is not 24 hours, so hours it is). */
export function minutesText(m: number | null | undefined): string {
  if (m === null || m === undefined || !Number.isFinite(m)) return ''
  const h = Math.round((m / 60) * 10) / 10
  return t('cases.common.hours', { n: h })
}

// ---------- the catalogue ----------

export const catalogue = ref<Catalogue | null>(null)
let catalogueLoading: Promise<Catalogue> | null = null

export function loadCatalogue(force = false): Promise<Catalogue> {
  if (force) catalogueLoading = null
  if (!catalogueLoading) {
    catalogueLoading = api.get<Catalogue>('/api/v1/catalogue', { silent: true }).then(
      (c) => {
        catalogue.value = c
        return c
      },
      (e) => {
        catalogueLoading = null
        throw e
      },
    )
  }
  return catalogueLoading
}

/** After an edit: the server's answer is the whole new catalogue. */
export function setCatalogue(c: Catalogue): void {
  catalogue.value = c
  catalogueLoading = Promise.resolve(c)
}

export function categoryOf(code: string | null | undefined): Category | undefined {
  if (!code) return undefined
  return catalogue.value?.categories.find((c) => c.code === code)
}

/** The category and its ancestors, the top first. */
export function categoryPath(code: string | null | undefined): Category[] {
  const out: Category[] = []
  const seen = new Set<string>()
  let c = categoryOf(code)
  while (c && !seen.has(c.code)) {
    seen.add(c.code)
    out.unshift(c)
    c = categoryOf(c.parent)
  }
  return out
}

export function categoryPathName(code: string | null | undefined): string {
  return categoryPath(code)
    .map((c) => c.name)
    .join(' / ')
}

/** The category's questions after those of its ancestors (as the server checks them). */
export function effectiveQuestions(code: string | null | undefined): CategoryQuestion[] {
  return categoryPath(code).flatMap((c) => c.questions ?? [])
}

/** The responsible department kind, inherited from the nearest ancestor that sets one. */
export function effectiveDepartmentKind(code: string | null | undefined): string | null {
  const path = categoryPath(code)
  for (let i = path.length - 1; i >= 0; i--) if (path[i].department) return path[i].department
  return null
}

export function isLeafCategory(code: string): boolean {
  return !!categoryOf(code) && !(catalogue.value?.categories ?? []).some((c) => c.parent === code)
}

export function departmentKindName(key: string | null | undefined): string {
  if (!key) return ''
  return catalogue.value?.department_kinds.find((k) => k.key === key)?.name ?? key
}

export interface CategoryNode {
  value: string
  label: string
  disabled?: boolean
  children?: CategoryNode[]
}

/** The catalogue as trees for el-tree-select: one top node per tree (not selectable). */
export function categoryNodes(cat: Catalogue | null): CategoryNode[] {
  if (!cat) return []
  const byParent = new Map<string, Category[]>()
  for (const c of cat.categories) {
    const key = `${c.tree}\u0000${c.parent ?? ''}`
    const list = byParent.get(key) ?? []
    list.push(c)
    byParent.set(key, list)
  }
  const build = (tree: string, parent: string): CategoryNode[] =>
    (byParent.get(`${tree}\u0000${parent}`) ?? []).map((c) => {
      const children = build(tree, c.code)
      return {
        value: c.code,
        label: `${c.code} ${c.name}`,
        children: children.length ? children : undefined,
      }
    })
  return cat.trees.map((tr) => ({
    value: `tree:${tr.tree}`,
    label: tr.name,
    disabled: true,
    children: build(tr.tree, ''),
  }))
}

// ---------- departments ----------

export const departments = ref<Department[]>([])
let departmentsLoading: Promise<Department[]> | null = null

export function loadDepartments(force = false): Promise<Department[]> {
  if (force) departmentsLoading = null
  if (!departmentsLoading) {
    departmentsLoading = api.get<{ items: Department[] }>('/api/v1/departments', { silent: true }).then(
      (r) => {
        departments.value = r.items
        return r.items
      },
      (e) => {
        departmentsLoading = null
        throw e
      },
    )
  }
  return departmentsLoading
}

// ---------- notifications ----------

export const unreadCount = ref(0)

/** Refreshes the unread count (the header's bell). */
export async function refreshUnread(): Promise<NotificationPage | null> {
  try {
    const r = await api.get<NotificationPage>(`/api/v1/notifications${qs({ unread: true, limit: 1 })}`, {
      silent: true,
    })
    unreadCount.value = r.unread
    return r
  } catch {
    return null
  }
}

// ---------- client ids and media ----------

/** A UUID v4; crypto.randomUUID exists only on secure origins, so a fallback for plain http. */
export function newClientId(): string {
  const c = globalThis.crypto
  if (c && typeof c.randomUUID === 'function') return c.randomUUID()
  const b = new Uint8Array(16)
  c.getRandomValues(b)
  b[6] = (b[6] & 0x0f) | 0x40
  b[8] = (b[8] & 0x3f) | 0x80
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

export function mediaUrl(id: number): string {
  return `/api/v1/media/${id}`
}

export const MEDIA_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'video/mp4', 'video/quicktime']

/** Uploads one photo or video; the server reads the type from the bytes. */
export function uploadMedia(file: Blob): Promise<CaseMedia> {
  return api.post<CaseMedia>('/api/v1/media', undefined, {
    rawBody: file,
    contentType: 'application/octet-stream',
    silent: true,
  })
}

/** A limit text as the catalogue writes it: 1–9999 then h (working hours) or d (working days). */
export const LIMIT_RE = /^[1-9]\d{0,3}[hd]$/

/** Whether the user holds `perm` through a global grant (the server's `require_global`). */
export function canEverywhere(perm: string): boolean {
  const roles = meta.value?.roles ?? []
  return (me.value?.grants ?? []).some(
    (g) => g.unit_code === null && !!roles.find((r) => r.key === g.role)?.permissions.includes(perm),
  )
}

/** The problems of a refused catalogue (details) or the server's own message, as lines. */
export function problemLines(e: unknown): string[] {
  if (e instanceof ApiError) {
    if (Array.isArray(e.details)) {
      const lines = (e.details as { subject?: string; message_zh?: string; message_en?: string }[]).map((p) =>
        [p.subject, pick(p.message_zh, p.message_en)].filter((x) => x).join(': '),
      )
      if (lines.length) return lines
    }
    const own = pick(e.messageZh, e.messageEn)
    if (own && own !== e.code) return [own]
  }
  return []
}
