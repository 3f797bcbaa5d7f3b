import { computed, ref } from 'vue'
import { api, setCsrfToken } from './api'
import type { LoginResponse, Me } from './types'

export const me = ref<Me | null>(null)

export const permissions = computed(() => new Set(me.value?.permissions ?? []))

export function can(permission: string): boolean {
  return permissions.value.has(permission)
}

/** Loads the current session; returns null when not logged in. */
export async function fetchMe(): Promise<Me | null> {
  try {
    const m = await api.get<Me>('/api/v1/auth/me', { silent: true, noAuthRedirect: true })
    me.value = m
    setCsrfToken(m.csrf_token)
    return m
  } catch (e) {
    me.value = null
    setCsrfToken(null)
    if ((e as { status?: number }).status === 401) return null
    throw e
  }
}

export async function login(username: string, password: string): Promise<Me | null> {
  const r = await api.post<LoginResponse>(
    '/api/v1/auth/login',
    { username, password },
    { silent: true, noAuthRedirect: true },
  )
  setCsrfToken(r.csrf_token)
  return fetchMe()
}

export async function logout(): Promise<void> {
  try {
    await api.post('/api/v1/auth/logout', undefined, { silent: true, noAuthRedirect: true })
  } finally {
    me.value = null
    setCsrfToken(null)
  }
}

export function clearSession(): void {
  me.value = null
  setCsrfToken(null)
}
