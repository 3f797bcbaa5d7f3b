// Sending boundaries from a file the user picks (the boundary import, new grids from a file):
// the chosen file, the coordinate system, "accept the warnings", the busy flag, and the topology
// report when the server refuses. The form fields themselves are GeoFileFields.vue.

import { ref } from 'vue'
import { ElMessage } from 'element-plus'
import type { UploadFile } from 'element-plus'
import { errorText, t } from '@/shared/i18n'
import { useTopologyReport } from './useTopologyReport'

/** The coordinate systems the API takes (`crs`). */
export const CRS = ['wgs84', 'gcj02', 'bd09'] as const
export type Crs = (typeof CRS)[number]

export interface GeoFileOptions {
  /** accepted file name endings, lower case, e.g. ['.geojson', '.json'] */
  extensions: readonly string[]
  /** message key shown when a file of another type is picked */
  badType: string
}

export function useGeoFile(opts: GeoFileOptions) {
  const file = ref<File | null>(null)
  const fileList = ref<UploadFile[]>([])
  const crs = ref<Crs>('wgs84')
  const acceptWarnings = ref(false)
  const busy = ref(false)
  const topology = useTopologyReport()

  function accepts(name: string): boolean {
    const lower = name.toLowerCase()
    return opts.extensions.some((ext) => lower.endsWith(ext))
  }

  /** Takes the file the upload picked (el-upload's on-change); false when its type is refused. */
  function pick(f: UploadFile): boolean {
    topology.clear()
    if (!accepts(f.name)) {
      ElMessage.error(t(opts.badType))
      remove()
      return false
    }
    fileList.value = [f]
    file.value = f.raw ?? null
    return !!file.value
  }

  function remove() {
    file.value = null
    fileList.value = []
  }

  /** A fresh start when the dialog opens (the coordinate system is kept). */
  function reset() {
    remove()
    acceptWarnings.value = false
    topology.clear()
  }

  /** Runs a request: busy meanwhile; a topology error keeps its report, others show a message.
   *  Resolves to the answer, or undefined when it failed. */
  async function send<T>(request: () => Promise<T>): Promise<T | undefined> {
    busy.value = true
    topology.clear()
    try {
      return await request()
    } catch (e) {
      if (!topology.capture(e)) ElMessage.error(errorText(e))
      return undefined
    } finally {
      busy.value = false
    }
  }

  return { file, fileList, crs, acceptWarnings, busy, ...topology, accepts, pick, remove, reset, send }
}
