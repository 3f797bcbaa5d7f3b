// Wire types of the case loop as the mobile pages use them (routes/cases.rs, public_cases.rs,
// media.rs, notifications.rs, catalogue.rs). Kept here so the mobile pages do not depend on the
// PC's types while those are being written.

export type CaseState =
  | 'draft'
  | 'reported'
  | 'accepted'
  | 'filed'
  | 'not_filed'
  | 'dispatched'
  | 'in_handling'
  | 'handled'
  | 'in_check'
  | 'rework'
  | 'closed'
  | 'rated'
  | 'parked'
  | 'deferred'
  | 'voided'

export type Rating = 'satisfied' | 'basically_satisfied' | 'unsatisfied'

/** A case as lists and the detail page show it. */
export interface CaseItem {
  id: number
  number: string
  client_id: string
  channel: string
  state: CaseState
  resume_to: CaseState | null
  unit_id: number
  unit_code: string
  unit_name: string
  handling_unit_id: number
  handling_code: string
  handling_name: string
  handling_level: string
  category: string | null
  category_name: string | null
  nature: string
  urgent: boolean
  description: string
  address: string
  lat: number | null
  lng: number | null
  answers: Record<string, unknown>
  confidential: boolean
  media: number[]
  created_at: number
  updated_at: number
  version: number
  stage: string | null
  deadline_at: number | null
  /** on_time | half | three_quarters | breached */
  alert: string
  supervision: { by?: string; note?: string; deadline?: number | null; at?: number } | null
  merged_into: number | null
  rework_count: number
  reopen_count: number
  extension_count: number
  extension: { minutes?: number; reason?: string; by?: string } | null
  rating: Rating | null
  closed_at: number | null
  first_report: boolean
  errand: { kind?: string; missing?: string[]; due_at?: number | null } | null
  detail: Record<string, unknown>
}

export interface CaseEvent {
  id: number
  at: number
  actor_name: string
  party: string
  action: string
  from_state: CaseState
  to_state: CaseState
  note: string
  data: Record<string, unknown>
  media: number[]
}

export interface CaseAssignment {
  id: number
  case_id: number
  department_id: number
  department_code: string
  department_name: string
  lead: boolean
  /** dispatched | accepted | returned | transferred | handled */
  status: string
  dispatched_at: number
  deadline_at: number | null
  finished_at: number | null
  note: string
}

export interface CaseDetail extends CaseItem {
  reporter: { name: string | null; phone: string | null; confidential: boolean } | null
  events: CaseEvent[]
  assignments: CaseAssignment[]
  allowed: string[]
  parties: string[]
  merged: { id: number; number: string }[]
}

export interface CasePage {
  items: CaseItem[]
  total: number
}

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
