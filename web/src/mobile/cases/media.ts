// Photos of the case loop: made phone-sized before upload, uploaded as raw bytes (the server reads
// the type from them), kept as data URLs while the phone is offline.

import { api, ApiError, enc } from '@/shared/api'
import type { Media } from '../caseTypes'

/** Files larger than this, or in a type the server does not keep, are re-encoded as JPEG. */
const MAX_BYTES = 1_500_000
const MAX_SIDE = 1600
const KEPT = ['image/jpeg', 'image/png', 'image/webp']

function toJpeg(canvas: HTMLCanvasElement): Promise<Blob | null> {
  return new Promise((resolve) => canvas.toBlob((b) => resolve(b), 'image/jpeg', 0.82))
}

/** The photo to upload: the file itself when small enough, else a JPEG of at most 1600 px. */
export async function preparePhoto(file: Blob): Promise<Blob> {
  if (file.size <= MAX_BYTES && KEPT.includes(file.type)) return file
  try {
    const bmp = await createImageBitmap(file)
    const scale = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height))
    const canvas = document.createElement('canvas')
    canvas.width = Math.max(1, Math.round(bmp.width * scale))
    canvas.height = Math.max(1, Math.round(bmp.height * scale))
    const ctx = canvas.getContext('2d')
    if (!ctx) return file
    ctx.drawImage(bmp, 0, 0, canvas.width, canvas.height)
    bmp.close()
    return (await toJpeg(canvas)) ?? file
  } catch {
    // the browser cannot decode it: let the server say what it thinks
    return file
  }
}

/** Uploads a photo: staff through /media, residents through /public/media. */
export function uploadPhoto(blob: Blob, isPublic: boolean): Promise<Media> {
  return api.post<Media>(isPublic ? '/api/v1/public/media' : '/api/v1/media', undefined, {
    rawBody: blob,
    contentType: 'application/octet-stream',
    silent: true,
  })
}

/** Whether an error means the request never got an answer (offline, connection dropped). */
export function isNetworkError(e: unknown): boolean {
  if (!(e instanceof ApiError)) return false
  return e.status === 0 || e.status === 502 || e.status === 503 || e.status === 504
}

export function blobToDataUrl(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader()
    r.onload = () => resolve(String(r.result))
    r.onerror = () => reject(r.error ?? new Error('read failed'))
    r.readAsDataURL(blob)
  })
}

/** A data URL back to bytes (decoded here: the CSP does not let fetch() read data: URLs). */
export function dataUrlToBlob(url: string): Blob {
  const comma = url.indexOf(',')
  const head = url.slice(0, comma)
  const type = /^data:([^;,]+)/.exec(head)?.[1] ?? 'application/octet-stream'
  const bin = atob(url.slice(comma + 1))
  const bytes = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i)
  return new Blob([bytes], { type })
}

/** Where staff read a case's photo. */
export function staffMediaUrl(id: number): string {
  return `/api/v1/media/${id}`
}

/** Where the holder of a tracking code reads a case's photo. */
export function publicMediaUrl(code: string, id: number): string {
  return `/api/v1/public/cases/${enc(code)}/media/${id}`
}
