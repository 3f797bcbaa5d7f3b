// The outbox of reports made without a connection. A report whose POST fails for want of a network
// is kept in localStorage with its client id and sent again later (on reconnect, on start, every
// half minute) with the SAME client id, so the server returns the case it may already have made
// instead of a duplicate. Photos that could not be uploaded travel with it as data URLs and are
// uploaded first.

import { computed, ref } from 'vue'
import { api, ApiError } from '@/shared/api'
import { me } from '@/shared/session'
import type { CaseDetail, Receipt, ReportBody } from '../caseTypes'
import { dataUrlToBlob, isNetworkError, uploadPhoto } from './media'
import { rememberReport } from './myReports'

export interface PendingPhoto {
  /** data: URL of the bytes */
  data: string
  /** the report's photos, or the on-the-spot handling's */
  target: 'media' | 'on_spot'
}

export interface OutboxEntry {
  client_id: string
  /** staff: POST /api/v1/cases with the session of `user_id`; public: POST /api/v1/public/cases */
  kind: 'staff' | 'public'
  user_id: number | null
  /** public reports: the grid whose page it came from */
  grid: string | null
  body: ReportBody
  photos: PendingPhoto[]
  created_at: number
  attempts: number
  /** the server refused it (not a network problem): it stays until the user removes it */
  error: string | null
}

export interface SentReport {
  entry: OutboxEntry
  /** staff reports: the case */
  caseId: number | null
  receipt: Receipt | null
}

const KEY = 'wangge.outbox.v1'

function load(): OutboxEntry[] {
  try {
    const raw = localStorage.getItem(KEY)
    const v: unknown = raw ? JSON.parse(raw) : []
    return Array.isArray(v) ? (v as OutboxEntry[]) : []
  } catch {
    return []
  }
}

export const outbox = ref<OutboxEntry[]>(load())

/** Entries this session may send (staff entries of another user wait for them). */
export const myOutbox = computed(() =>
  outbox.value.filter((e) => e.kind === 'public' || (me.value !== null && e.user_id === me.value.user.id)),
)

/** Pending entries as the current page sees them: all public ones and this user's. */
export const pendingCount = computed(() => myOutbox.value.length)

/** Saves the list; false when the storage is full. */
function save(list: OutboxEntry[]): boolean {
  try {
    localStorage.setItem(KEY, JSON.stringify(list))
    outbox.value = list
    return true
  } catch {
    return false
  }
}

/**
 * Keeps a report for later. When the photos do not fit in the storage they are dropped (the
 * report itself is kept); returns whether they were kept.
 */
export function enqueue(entry: Omit<OutboxEntry, 'created_at' | 'attempts' | 'error'>): { photosKept: boolean } {
  const full: OutboxEntry = { ...entry, created_at: Date.now(), attempts: 0, error: null }
  const others = load().filter((e) => e.client_id !== entry.client_id)
  if (save([...others, full])) return { photosKept: true }
  save([...others, { ...full, photos: [] }])
  return { photosKept: false }
}

export function removeEntry(clientId: string): void {
  save(load().filter((e) => e.client_id !== clientId))
}

function update(clientId: string, change: (e: OutboxEntry) => OutboxEntry): void {
  save(load().map((e) => (e.client_id === clientId ? change(e) : e)))
}

type Listener = (sent: SentReport) => void
const listeners = new Set<Listener>()

/** Called for every report the outbox delivers; returns the unsubscriber. */
export function onSent(fn: Listener): () => void {
  listeners.add(fn)
  return () => listeners.delete(fn)
}

async function sendOne(e: OutboxEntry): Promise<'sent' | 'offline' | 'refused' | 'skipped'> {
  const isPublic = e.kind === 'public'
  if (!isPublic && (!me.value || me.value.user.id !== e.user_id)) return 'skipped'
  try {
    // photos first: each uploaded one moves into the body, so it is not uploaded twice
    for (const p of [...e.photos]) {
      const m = await uploadPhoto(dataUrlToBlob(p.data), isPublic)
      update(e.client_id, (cur) => {
        const body = { ...cur.body }
        if (p.target === 'on_spot' && body.on_spot) {
          body.on_spot = { ...body.on_spot, media: [...body.on_spot.media, m.id] }
        } else {
          body.media = [...(body.media ?? []), m.id]
        }
        return { ...cur, body, photos: cur.photos.filter((x) => x.data !== p.data) }
      })
    }
    const cur = load().find((x) => x.client_id === e.client_id)
    if (!cur) return 'skipped'
    update(e.client_id, (x) => ({ ...x, attempts: x.attempts + 1 }))
    let sent: SentReport
    if (isPublic) {
      const r = await api.post<Receipt>('/api/v1/public/cases', cur.body, { silent: true })
      rememberReport({ tracking_code: r.tracking_code, number: r.number, grid: cur.grid ?? '', at: Date.now() })
      sent = { entry: cur, caseId: null, receipt: r }
    } else {
      const c = await api.post<CaseDetail>('/api/v1/cases', cur.body, { silent: true, noAuthRedirect: true })
      sent = { entry: cur, caseId: c.id, receipt: null }
    }
    removeEntry(e.client_id)
    for (const fn of listeners) fn(sent)
    return 'sent'
  } catch (err) {
    if (isNetworkError(err)) return 'offline'
    if (err instanceof ApiError && err.status === 401) return 'skipped'
    const msg = err instanceof ApiError ? err.messageZh || err.message || err.code : String(err)
    update(e.client_id, (x) => ({ ...x, error: msg }))
    return 'refused'
  }
}

let running: Promise<number> | null = null

async function flushAll(): Promise<number> {
  let n = 0
  if (typeof navigator !== 'undefined' && navigator.onLine === false) return 0
  for (const e of load()) {
    if (e.error) continue
    const r = await sendOne(e)
    if (r === 'sent') n++
    if (r === 'offline') break
  }
  return n
}

/** Sends what can be sent now, in order; resolves to the number sent. One run at a time. */
export function flushOutbox(): Promise<number> {
  // `.finally` runs after the assignment even when flushAll finishes at once
  running ??= flushAll().finally(() => {
    running = null
  })
  return running
}

/** Retries a refused entry (after the user read the error). */
export function retryEntry(clientId: string): Promise<number> {
  update(clientId, (x) => ({ ...x, error: null }))
  return flushOutbox()
}

let started = false

/** Sends on reconnect, when another tab changes the outbox, and every 30 s while there is work. */
export function startOutbox(): void {
  if (started) return
  started = true
  window.addEventListener('online', () => void flushOutbox())
  window.addEventListener('storage', (ev) => {
    if (ev.key === KEY) outbox.value = load()
  })
  window.setInterval(() => {
    if (load().some((e) => !e.error)) void flushOutbox()
  }, 30_000)
  void flushOutbox()
}
