import { ref } from 'vue'
import { api } from './api'
import { isZh, pick, t } from './i18n'
import type { Level, Meta, Role } from './types'

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

export function kindName(kind: string | null | undefined): string {
  if (!kind) return ''
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
