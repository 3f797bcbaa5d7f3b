// The API client shared by the PC and the mobile app.
// - cookies are same-origin (the session cookie is HttpOnly);
// - the CSRF token from login / GET /auth/me is kept in memory and sent on every state-changing request;
// - errors become ApiError; by default they are also shown to the user (ElMessage on PC, showToast on
//   mobile) through the notifier each app installs, translated by code;
// - 401 `unauthenticated` calls the app's handler, which sends the user to the login page.

import type { ApiErrorBody } from './types'

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly messageEn: string
  readonly messageZh: string
  readonly details: unknown

  constructor(status: number, body: ApiErrorBody) {
    super(body.message || body.code)
    this.name = 'ApiError'
    this.status = status
    this.code = body.code
    this.messageEn = body.message
    this.messageZh = body.message_zh
    this.details = body.details
  }
}

export interface RequestOptions {
  /** Do not show the error to the user (the caller shows it itself). */
  silent?: boolean
  /** Do not redirect to the login page on 401 (login, the first /auth/me probe). */
  noAuthRedirect?: boolean
  /** A raw body (a file) instead of JSON; `contentType` then says what it is. */
  rawBody?: Blob
  contentType?: string
}

type Notifier = (err: ApiError) => void
type UnauthenticatedHandler = () => void

let csrfToken: string | null = null
let notifier: Notifier = () => {}
let onUnauthenticated: UnauthenticatedHandler = () => {}

export function setCsrfToken(token: string | null): void {
  csrfToken = token
}

export function getCsrfToken(): string | null {
  return csrfToken
}

export function setErrorNotifier(fn: Notifier): void {
  notifier = fn
}

export function setUnauthenticatedHandler(fn: UnauthenticatedHandler): void {
  onUnauthenticated = fn
}

const UNSAFE = new Set(['POST', 'PATCH', 'PUT', 'DELETE'])

function asErrorBody(status: number, data: unknown, text: string): ApiErrorBody {
  if (data && typeof data === 'object' && typeof (data as { code?: unknown }).code === 'string') {
    const d = data as Partial<ApiErrorBody>
    return {
      code: d.code as string,
      message: d.message ?? '',
      message_zh: d.message_zh ?? '',
      details: d.details ?? null,
    }
  }
  return {
    code: status === 0 ? 'network_error' : `http_${status}`,
    message: text || `HTTP ${status}`,
    message_zh: text || `HTTP ${status}`,
    details: null,
  }
}

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  opts: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  let payload: BodyInit | undefined
  if (opts.rawBody !== undefined) {
    payload = opts.rawBody
    headers['Content-Type'] = opts.contentType ?? 'application/octet-stream'
  } else if (body !== undefined) {
    payload = JSON.stringify(body)
    headers['Content-Type'] = 'application/json'
  }
  if (UNSAFE.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken

  let res: Response
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' })
  } catch (e) {
    const err = new ApiError(0, asErrorBody(0, null, String(e)))
    if (!opts.silent) notifier(err)
    throw err
  }

  if (res.status === 204) return undefined as T
  const text = await res.text()
  let data: unknown = undefined
  if (text) {
    try {
      data = JSON.parse(text)
    } catch {
      data = undefined
    }
  }
  if (res.ok) return data as T

  const err = new ApiError(res.status, asErrorBody(res.status, data, text))
  if (res.status === 401 && err.code === 'unauthenticated' && !opts.noAuthRedirect) {
    csrfToken = null
    onUnauthenticated()
    throw err
  }
  if (!opts.silent) notifier(err)
  throw err
}

export const api = {
  get: <T>(path: string, opts?: RequestOptions) => request<T>('GET', path, undefined, opts),
  post: <T>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('POST', path, body ?? {}, opts),
  patch: <T>(path: string, body: unknown, opts?: RequestOptions) => request<T>('PATCH', path, body, opts),
  put: <T>(path: string, body: unknown, opts?: RequestOptions) => request<T>('PUT', path, body, opts),
  del: <T>(path: string, opts?: RequestOptions) => request<T>('DELETE', path, undefined, opts),
}

/** Builds a query string from the defined, non-empty values. */
export function qs(params: Record<string, string | number | boolean | null | undefined>): string {
  const sp = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue
    sp.set(k, String(v))
  }
  const s = sp.toString()
  return s ? `?${s}` : ''
}

export const enc = encodeURIComponent
