import { computed } from 'vue'
import { createI18n } from 'vue-i18n'
import zhCNBase from './locales/zh-CN'
import enBase from './locales/en'
import casesZhCN from './locales/cases.zh-CN'
import casesEn from './locales/cases.en'
import mcasesZhCN from './locales/mcases.zh-CN'
import mcasesEn from './locales/mcases.en'
import externalZhCN from './locales/external.zh-CN'
import externalEn from './locales/external.en'
import { ApiError } from './api'

// The case loop's and the external systems' strings live in their own files, one namespace each.
const zhCN = { ...zhCNBase, cases: casesZhCN, mcases: mcasesZhCN, external: externalZhCN }
const en: typeof zhCN = { ...enBase, cases: casesEn, mcases: mcasesEn, external: externalEn }
type Messages = typeof zhCN

export type Lang = 'zh-CN' | 'en'
export const LANG_KEY = 'wangge.lang'

function initialLang(): Lang {
  try {
    const stored = localStorage.getItem(LANG_KEY)
    if (stored === 'en' || stored === 'zh-CN') return stored
  } catch {
    // storage unavailable: fall back to the default
  }
  return 'zh-CN'
}

export const i18n = createI18n<[Messages], Lang, false>({
  legacy: false,
  locale: initialLang(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
  missingWarn: false,
  fallbackWarn: false,
})

const g = i18n.global

export const currentLang = computed<Lang>(() => g.locale.value as Lang)

export function setLang(lang: Lang): void {
  g.locale.value = lang
  try {
    localStorage.setItem(LANG_KEY, lang)
  } catch {
    // ignore
  }
  document.documentElement.lang = lang
}

export function t(key: string, params?: Record<string, unknown>): string {
  return params ? g.t(key, params) : g.t(key)
}

export function isZh(): boolean {
  return g.locale.value === 'zh-CN'
}

/** Chooses the zh or en variant of a server-provided pair. */
export function pick(zh: string | null | undefined, enText: string | null | undefined): string {
  return (isZh() ? zh || enText : enText || zh) ?? ''
}

function detailsOf(details: unknown): Record<string, unknown> {
  return details && typeof details === 'object' ? (details as Record<string, unknown>) : {}
}

/** Translates an error code; unknown codes fall back to the server's own message. */
export function codeText(
  code: string,
  fallbackEn: string,
  fallbackZh: string,
  details?: unknown,
): string {
  const d = detailsOf(details)
  if (code === 'account_locked') {
    const secs = Number(d.retry_after_seconds)
    const minutes = Number.isFinite(secs) && secs > 0 ? Math.ceil(secs / 60) : 1
    return t('errors.account_locked', { minutes })
  }
  if (code === 'validation_failed' && typeof d.field === 'string') {
    return t('errors.validation_failed_field', { field: d.field })
  }
  if (code === 'password_policy') {
    return t('errors.password_policy', {
      min_length: d.min_length ?? '?',
      min_classes: d.min_classes ?? '?',
    })
  }
  const key = `errors.${code}`
  if (g.te(key, 'zh-CN')) return t(key)
  return pick(fallbackZh, fallbackEn) || code
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return codeText(err.code, err.messageEn, err.messageZh, err.details)
  return err instanceof Error ? err.message : String(err)
}
