// The case catalogue (GET /api/v1/catalogue), loaded once per app start, and what the pickers need.

import { ref } from 'vue'
import { api } from '@/shared/api'
import type { Catalogue, Category, Question } from '../caseTypes'

export const catalogue = ref<Catalogue | null>(null)
let loading: Promise<Catalogue | null> | null = null

export function loadCatalogue(): Promise<Catalogue | null> {
  if (!loading) {
    loading = api.get<Catalogue>('/api/v1/catalogue', { silent: true }).then(
      (c) => (catalogue.value = c),
      () => {
        loading = null
        return null
      },
    )
  }
  return loading
}

function byCode(code: string): Category | undefined {
  return catalogue.value?.categories.find((c) => c.code === code)
}

/** The category and its ancestors, top first. */
export function categoryPath(code: string | null | undefined): Category[] {
  const out: Category[] = []
  let c = code ? byCode(code) : undefined
  while (c && out.length < 10) {
    out.unshift(c)
    c = c.parent ? byCode(c.parent) : undefined
  }
  return out
}

export function categoryName(code: string | null | undefined): string {
  return categoryPath(code)
    .map((c) => c.name)
    .join(' / ')
}

/** The questions a category asks, its ancestors' first (Catalogue::effective_questions). */
export function categoryQuestions(code: string | null | undefined): Question[] {
  return categoryPath(code).flatMap((c) => c.questions ?? [])
}

export function isLeaf(code: string): boolean {
  return !catalogue.value?.categories.some((c) => c.parent === code)
}

export interface CascaderOption {
  text: string
  value: string
  children?: CascaderOption[]
}

/** Trees (the grid tree first) › categories, for van-cascader; only leaves finish a choice. */
export function cascaderOptions(): CascaderOption[] {
  const cat = catalogue.value
  if (!cat) return []
  const kids = new Map<string, Category[]>()
  for (const c of cat.categories) {
    const k = c.parent ?? `tree:${c.tree}`
    const list = kids.get(k) ?? []
    list.push(c)
    kids.set(k, list)
  }
  const node = (c: Category): CascaderOption => {
    const ch = kids.get(c.code)
    return ch?.length ? { text: c.name, value: c.code, children: ch.map(node) } : { text: c.name, value: c.code }
  }
  const trees = [...cat.trees].sort((a, b) => Number(b.tree === 'grid') - Number(a.tree === 'grid'))
  const opts = trees
    .map((t) => ({ text: t.name, value: `tree:${t.tree}`, children: (kids.get(`tree:${t.tree}`) ?? []).map(node) }))
    .filter((t) => t.children.length)
  return opts.length === 1 ? opts[0].children : opts
}
