import { blobToDataUrl } from './media'

/** A photo being attached (PhotoPicker). */
export interface PhotoItem {
  key: string
  /** blob: URL for the thumbnail */
  url: string
  mediaId: number | null
  status: 'uploading' | 'done' | 'failed' | 'offline'
  blob: Blob | null
  error: string
}

/** Uploaded ids, whether an upload is still running, and whether one was refused. */
export function photoState(items: PhotoItem[]) {
  return {
    ids: items.filter((p) => p.status === 'done' && p.mediaId !== null).map((p) => p.mediaId as number),
    busy: items.some((p) => p.status === 'uploading'),
    failed: items.some((p) => p.status === 'failed'),
    offline: items.filter((p) => p.status === 'offline' && p.blob !== null).map((p) => p.blob as Blob),
  }
}

/** The photos not uploaded yet, as data URLs for the outbox. */
export async function offlinePhotos(items: PhotoItem[]): Promise<string[]> {
  const out: string[] = []
  for (const b of photoState(items).offline) out.push(await blobToDataUrl(b))
  return out
}
