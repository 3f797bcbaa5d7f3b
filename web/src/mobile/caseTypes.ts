// Wire types of the case loop that only the mobile pages use (reports, receipts, tracking);
// the case itself, its events and assignments are the shared types.

import type { Case, CaseState } from '@/shared/types'

export type { CaseState, CaseEvent, CaseAssignment, CaseDetail, CasePage } from '@/shared/types'
export type CaseItem = Case

export type Rating = 'satisfied' | 'basically_satisfied' | 'unsatisfied'

/** The body of POST /api/v1/cases and POST /api/v1/public/cases. */
export interface ReportBody {
  client_id: string
  lat?: number
  lng?: number
  crs?: string
  unit_code?: string
  address?: string
  category?: string
  description: string
  urgent?: boolean
  answers?: Record<string, unknown>
  media?: number[]
  reporter_name?: string
  reporter_phone?: string
  on_spot?: { note: string; media: number[] }
}

/** The body of POST /api/v1/cases/{id}/actions/{action}. */
export interface StepBody {
  version: number
  note?: string
  media?: number[]
  category?: string
  rating?: Rating
  hours?: number
  days?: number
  into?: number
}

export interface Media {
  id: number
  sha256: string
  content_type: string
  size: number
  created_at: number
}

export interface Receipt {
  number: string
  tracking_code: string
  state: CaseState
}

export interface PublicStep {
  at: number
  action: string
  state: CaseState
  note: string | null
  media: number[]
}

export interface Tracking {
  number: string
  state: CaseState
  category: string | null
  description: string
  address: string
  grid: string
  created_at: number
  deadline_at: number | null
  rating: Rating | null
  can_rate: boolean
  media: number[]
  steps: PublicStep[]
  merged_into: Tracking | null
  missing: string[]
}

export interface Disclosed {
  number: string
  category: string | null
  summary: string
  created_at: number
  closed_at: number | null
  rating: Rating | null
}

export interface Question {
  key: string
  label: string
  /** string | number | datetime | text | single | multi | bool */
  type: string
  required: boolean
  options: string[]
}

export interface Category {
  code: string
  parent: string | null
  tree: string
  name: string
  urgent: boolean
  questions: Question[]
}

export interface Catalogue {
  version: number
  trees: { tree: string; name: string; prefix: string }[]
  categories: Category[]
}

export interface Suggestions {
  categories: { code: string; name: string; score: number }[]
  duplicates: CaseItem[]
}

export interface Notification {
  id: number
  case_id: number | null
  kind: string
  title: string
  body: string
  created_at: number
  read_at: number | null
}

export interface NotificationPage {
  items: Notification[]
  unread: number
}
