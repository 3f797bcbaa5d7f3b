// The resident's own reports on this phone: the receipts (number and tracking code), so the
// tracking code is not lost when the receipt page is closed. Nothing else is kept.

import { ref } from 'vue'

export interface MyReport {
  tracking_code: string
  number: string
  /** the grid whose page it was reported from */
  grid: string
  at: number
}

const KEY = 'wangge.myReports.v1'
const MAX = 20

function load(): MyReport[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(KEY) ?? '[]')
    return Array.isArray(v) ? (v as MyReport[]) : []
  } catch {
    return []
  }
}

export const myReports = ref<MyReport[]>(load())

export function rememberReport(r: MyReport): void {
  const list = [r, ...load().filter((x) => x.tracking_code !== r.tracking_code)].slice(0, MAX)
  try {
    localStorage.setItem(KEY, JSON.stringify(list))
  } catch {
    // storage full or unavailable: the receipt page still shows the code
  }
  myReports.value = list
}

export function forgetReport(code: string): void {
  const list = load().filter((x) => x.tracking_code !== code)
  try {
    localStorage.setItem(KEY, JSON.stringify(list))
  } catch {
    // ignore
  }
  myReports.value = list
}
