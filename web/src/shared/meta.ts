import { ref } from 'vue'
import { api } from './api'
import { isZh, pick, t } from './i18n'
import type { ChainUnit, CodedWarning, Level, Meta, NamedKey, Role } from './types'

export const meta = ref<Meta | null>(null)

let loading: Promise<Meta> | null = null

export function loadMeta(): Promise<Meta> {
  if (!loading) {
    loading = api.get<Meta>('/api/v1/meta', { silent: true }).then(
      (m) => {
        meta.value = m
        return m
      },
      (e) => {
        loading = null
        throw e
      },
    )
  }
  return loading
}

export function levels(): Level[] {
  return meta.value?.levels ?? []
}

export function levelIndex(key: string): number {
  return levels().findIndex((l) => l.key === key)
}

export function findLevel(key: string | null | undefined): Level | undefined {
  return levels().find((l) => l.key === key)
}

export function levelName(key: string | null | undefined): string {
  if (!key) return ''
  const l = findLevel(key)
  return l ? pick(l.name_zh, l.name_en) : key
}

export function roleName(key: string): string {
  const r: Role | undefined = meta.value?.roles.find((x) => x.key === key)
  return r ? pick(r.name_zh, r.name_en) : key
}

function nameOf(list: NamedKey[] | undefined, key: string | null | undefined): string {
  if (!key) return ''
  const e = list?.find((x) => x.key === key)
  return e ? pick(e.name_zh, e.name_en) : key
}

export function gridKinds(): NamedKey[] {
  return meta.value?.grid_kinds ?? []
}

export function businessLines(): NamedKey[] {
  return meta.value?.business_lines ?? []
}

export function teamRoles(): NamedKey[] {
  return meta.value?.team_roles ?? []
}

export function educations(): NamedKey[] {
  return meta.value?.educations ?? []
}

/** The area types (`urban`, `rural`, `industrial`), as keys with names. */
export function areaTypes(): NamedKey[] {
  return (meta.value?.area_types ?? []).map((a) =>
    typeof a === 'string' ? { key: a, name_zh: t(`areaTypes.${a}`), name_en: t(`areaTypes.${a}`) } : a,
  )
}

export function businessLineName(key: string): string {
  return nameOf(businessLines(), key)
}

export function teamRoleName(key: string): string {
  const r = teamRoles().find((x) => x.key === key)
  return r ? pick(r.name_zh, r.name_en) : roleName(key)
}

export function educationName(key: string | null | undefined): string {
  return nameOf(educations(), key)
}

export function areaTypeName(key: string | null | undefined): string {
  return nameOf(areaTypes(), key)
}

/** Levels whose units are grids (grid, micro-grid): drawn, changed and staffed as grids. */
export function isGridLevel(level: string | null | undefined): boolean {
  return !!level && (meta.value?.grid_levels ?? []).includes(level)
}

/** The level right below `level` in the configured order, if any. */
export function childLevel(level: string | null | undefined): string | null {
  const i = level ? levelIndex(level) : -1
  if (i < 0) return null
  return levels()[i + 1]?.key ?? null
}

/** A chain of units ordered from the top level down (whatever order the server sent). */
export function topFirst(chain: ChainUnit[]): ChainUnit[] {
  return [...chain].sort((a, b) => levelIndex(a.level) - levelIndex(b.level))
}

/** A sizing or team warning, by its code, with the server's text as the fallback. */
export function warningText(w: CodedWarning): string {
  const key = `warnings.${w.code}`
  const s = t(key)
  return s === key ? pick(w.message_zh, w.message) : s
}

export const KNOWN_KINDS = [
  'province',
  'city',
  'county',
  'district',
  'town',
  'township',
  'street',
  'village',
  'community',
  'basic',
  'dedicated',
  'industrial',
  'enterprise',
] as const

/** A unit's kind: the grid kinds of /api/v1/meta, then the administrative kinds. */
export function kindName(kind: string | null | undefined): string {
  if (!kind) return ''
  if (gridKinds().some((k) => k.key === kind)) return nameOf(gridKinds(), kind)
  return (KNOWN_KINDS as readonly string[]).includes(kind) ? t(`kinds.${kind}`) : kind
}

/** Counts character classes like the server's password policy: lower, upper, digit, other. */
export function passwordClasses(pw: string): number {
  let n = 0
  if (/[a-z]/.test(pw)) n++
  if (/[A-Z]/.test(pw)) n++
  if (/[0-9]/.test(pw)) n++
  if (/[^a-zA-Z0-9]/.test(pw)) n++
  return n
}

/** Checks a new password against the policy from /api/v1/meta; returns an error text or null. */
export function passwordProblem(pw: string): string | null {
  const p = meta.value?.password_policy ?? { min_length: 8, min_classes: 3 }
  if ([...pw].length < p.min_length) return t('password.tooShort', { min: p.min_length })
  if (passwordClasses(pw) < p.min_classes) return t('password.tooFewClasses', { classes: p.min_classes })
  return null
}

export function policyText(): string {
  const p = meta.value?.password_policy ?? { min_length: 8, min_classes: 3 }
  return t('password.policy', { min: p.min_length, classes: p.min_classes })
}

export { isZh }
