// Display helpers: times in Asia/Shanghai, names from /api/v1/meta.

const TZ = 'Asia/Shanghai'
const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000 // China has had no daylight saving time since 1991

const partsFmt = new Intl.DateTimeFormat('en-GB', {
  timeZone: TZ,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
})

/** Epoch milliseconds → "YYYY-MM-DD HH:mm:ss" in Asia/Shanghai. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return ''
  const p: Record<string, string> = {}
  for (const part of partsFmt.formatToParts(new Date(ms))) p[part.type] = part.value
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`
}

/** "YYYY-MM-DD HH:mm:ss" read as Asia/Shanghai wall time → epoch milliseconds. */
export function shanghaiToEpoch(s: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(s.trim())
  if (!m) return null
  const [, y, mo, d, h = '0', mi = '0', se = '0'] = m
  return Date.UTC(+y, +mo - 1, +d, +h, +mi, +se) - SHANGHAI_OFFSET_MS
}

/** Today's date in Asia/Shanghai as YYYY-MM-DD. */
export function todayShanghai(): string {
  return formatTime(Date.now()).slice(0, 10)
}
