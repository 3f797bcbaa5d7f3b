// Wire types, as described in docs/api.md and docs/api-grids.md.

import type { Feature, FeatureCollection, MultiPolygon, Polygon } from 'geojson'

export interface User {
  id: number
  username: string
  display_name: string
  /** absent or null when no phone is recorded */
  phone_masked?: string | null
  disabled: boolean
  created_at: number
  birth_date?: string | null
  education?: string | null
  certificate_no?: string | null
  has_photo?: boolean
}

export interface Grant {
  id: number
  user_id: number
  role: string
  /** null: a global grant (system administrators) */
  unit_code: string | null
  unit_name: string | null
  unit_level: string | null
}

export interface Me {
  user: User
  grants: Grant[]
  permissions: string[]
  csrf_token: string
}

export interface LoginResponse {
  user: User
  csrf_token: string
}

export interface Level {
  key: string
  name_zh: string
  name_en: string
  /** Codes at this level have exactly this many digits; null: free-form codes. */
  code_length: number | null
}

export interface Role {
  key: string
  name_zh: string
  name_en: string
  permissions: string[]
}

export interface PasswordPolicy {
  min_length: number
  min_classes: number
}

/** A catalogue entry of /api/v1/meta (grid kinds, business lines, educations, …). */
export interface NamedKey {
  key: string
  name_zh: string
  name_en: string
}

export interface TeamRole extends NamedKey {
  /** the territory role granted on the unit with the assignment */
  grant_role: string
}

export interface TeamRule {
  /** the roles every grid must have */
  grid: string[]
  micro_grid_heads: number
}

export interface MapSettings {
  tile_url: string | null
  attribution: string | null
  /** [lng, lat] */
  center: [number, number]
  zoom: number
}

export interface Meta {
  levels: Level[]
  roles: Role[]
  password_policy: PasswordPolicy
  version: string
  grid_kinds?: NamedKey[]
  business_lines?: NamedKey[]
  /** keys (`urban`, `rural`, `industrial`); entries with names are accepted too */
  area_types?: (string | NamedKey)[]
  team_roles?: TeamRole[]
  educations?: NamedKey[]
  team_rule?: TeamRule
  grid_levels?: string[]
  map?: MapSettings
}

/** A warning (sizing of a grid, a member without certificate): not an error. */
export interface CodedWarning {
  code: string
  message: string
  message_zh: string
}

export interface Unit {
  code: string
  name: string
  level: string
  parent_code: string | null
  kind: string | null
  valid_from: string | null
  valid_to: string | null
  retired: boolean
  child_count: number
  business_lines?: string[]
  area_type?: string | null
  households?: number | null
  population?: number | null
  enterprises?: number | null
  has_boundary?: boolean
  warnings?: CodedWarning[]
}

export interface UnitSearchItem extends Unit {
  parent_name?: string | null
}

/** A unit by its code, name and level (the least a page needs to name it). */
export interface UnitRef {
  code: string
  name: string
  level: string
}

export interface UnitDetail {
  unit: Unit
  ancestors: Unit[]
}

export interface UnitHistoryItem {
  at: number
  action: string
  actor_name: string | null
  name: string | null
  parent_code: string | null
  level: string | null
  kind: string | null
  valid_from: string | null
  valid_to: string | null
}

export interface ImportRowError {
  row: number
  code: string | null
  error: string
  message: string
  message_zh: string
}

export interface ImportRejectedDetails {
  error_count: number
  errors: ImportRowError[]
  report_id: string
}

export interface Token {
  id: number
  name: string
  prefix: string
  created_at: number
  expires_at: number
  last_used_at: number | null
  revoked_at: number | null
}

export interface CreatedToken {
  token: string
  info: Token
}

export interface AuditEntry {
  seq: number
  at: number
  actor_id: number | null
  actor_name: string | null
  action: string
  target_kind: string | null
  target_id: string | null
  ip: string | null
  detail: unknown
}

export interface AuditPage {
  items: AuditEntry[]
  next_before: number | null
}

// ---------- grids: boundaries, topology reports ----------

export type BoundaryGeometry = Polygon | MultiPolygon

export interface UnitFeatureProps {
  code: string
  name: string
  level: string
  kind: string | null
  business_lines: string[]
  retired: boolean
  valid_from: string | null
  valid_to: string | null
  has_children: boolean
}

export type UnitFeature = Feature<BoundaryGeometry, UnitFeatureProps>

export interface UnitMap {
  unit: UnitFeature | null
  children: FeatureCollection<BoundaryGeometry, UnitFeatureProps>
  missing: { code: string; name: string }[]
}

export interface BoundaryVersion {
  version_id: number | string
  valid_from: string | null
  valid_to: string | null
  area_m2: number | null
  source: string | null
  change_id: number | string | null
  geometry: BoundaryGeometry
}

export type ProblemSeverity = 'error' | 'warning'

export interface TopologyProblem {
  severity: ProblemSeverity
  kind: string
  feature_index: number | null
  code: string | null
  other_code: string | null
  /** [lng, lat] of the problem, when it has a place */
  location: [number, number] | null
  area_m2: number | null
  message: string
  message_zh: string
}

export interface TopologyReport {
  id: string | null
  errors: number
  warnings: number
  problems: TopologyProblem[]
}

export interface BoundaryImportResult {
  imported: number
  report_id: string | null
  report: TopologyReport
}

// ---------- grid changes ----------

export type GridChangeKind = 'split' | 'merge' | 'redraw' | 'retire'
export type GridChangeStatus = 'proposed' | 'approved' | 'effective' | 'rejected'

export interface GridChangePart {
  name: string | null
  kind: string | null
  geometry: BoundaryGeometry | null
  area_m2?: number | null
  code: string | null
}

export interface GridChangeFiling {
  filing_no: string
  filed_to: string
  note: string | null
  filed_by: string
  filed_at: number
}

export interface GridChange {
  id: number | string
  kind: GridChangeKind
  status: GridChangeStatus
  units: string[]
  parent_code: string | null
  parts: GridChangePart[]
  result_codes: string[]
  reason: string
  effective_date: string
  report: TopologyReport | null
  proposed_by: string
  proposed_at: number
  decided_by: string | null
  decided_at: number | null
  decision_note: string | null
  applied_at: number | null
  filing: GridChangeFiling | null
}

export interface TimelineItem {
  date: string
  at: number | null
  /** unit.create, unit.update, unit.move, unit.retire, boundary, change.split, change.merge, … */
  kind: string
  title: string
  title_zh?: string
  detail: string | null
  change_id: number | null
  version_id?: number | null
}

// ---------- teams ----------

export interface TeamAssignment {
  id: number
  unit_code: string
  unit_name: string
  user_id: number
  display_name: string
  /** masked */
  phone: string | null
  role: string
  duty: string | null
  start_date: string | null
  end_date: string | null
  exception_reason: string | null
  active: boolean
  certified: boolean
  warnings: CodedWarning[]
}

export interface TeamReportGrid {
  code: string
  name: string
  level: string
  missing: string[]
  micro_grid_heads: number | null
}

export interface TeamReport {
  grids: TeamReportGrid[]
  uncertified: TeamAssignment[]
}

/** A unit in a chain of units (publicity pages). */
export interface ChainUnit {
  code: string
  name: string
  level: string
}

export interface BoardMember {
  display_name: string
  role: string
  duty: string | null
  /** full phone on the board and the contact cards */
  phone: string | null
  has_photo: boolean
  user_id: number
}

export interface Board {
  unit: Unit
  chain: ChainUnit[]
  geometry?: BoundaryGeometry | null
  team: BoardMember[]
  public_url: string
}

export interface PublicGrid {
  code: string
  name: string
  chain: ChainUnit[]
  team: { display_name: string; role: string; duty: string | null }[]
}

export interface Items<T> {
  items: T[]
}

export interface ApiErrorBody {
  code: string
  message: string
  message_zh: string
  details: unknown
}

// ---------- cases: the closed loop ----------

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

export type CaseAction =
  | 'submit'
  | 'accept'
  | 'file'
  | 'not_file'
  | 'handle_on_spot'
  | 'escalate'
  | 'dispatch'
  | 'take'
  | 'dept_accept'
  | 'return'
  | 'transfer'
  | 'report_result'
  | 'start_check'
  | 'check_pass'
  | 'check_fail'
  | 'resume_rework'
  | 'rate'
  | 'reopen'
  | 'request_extension'
  | 'approve_extension'
  | 'park'
  | 'defer'
  | 'resume'
  | 'supervise'
  | 'void'
  | 'merge'
  | 'review'

/** How far the running stage clock has got. */
export type CaseAlert = 'on_time' | 'half' | 'three_quarters' | 'breached'

export type CaseParty = 'grid_staff' | 'operator' | 'leader' | 'department' | 'resident' | 'system'

/** A case as the list and the detail return it. */
export interface Case {
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
  alert: CaseAlert
  /** `{by, note, deadline, at}` */
  supervision: { by?: string; note?: string; deadline?: number | null; at?: number } | null
  merged_into: number | null
  rework_count: number
  reopen_count: number
  extension_count: number
  /** A pending extension request `{minutes, reason, by}`. */
  extension: { minutes?: number; reason?: string; by?: string } | null
  rating: string | null
  closed_at: number | null
  first_report: boolean
  errand: {
    kind?: string
    promised_date?: string | null
    due_at?: number | null
    missing?: string[]
    units?: string[]
    /** approval: the matter applied for */
    matter?: string | null
    /** approval: the reviews level by level, each with its public notice */
    reviews?: CaseReview[]
    /** approval: the public notice now running ends then */
    notice_until?: number | null
  } | null
  /** not_filed_reason, void_reason, escalations… */
  detail: Record<string, unknown>
}

/** One level's review of an approval matter (审批类事项), with its public notice (公示). */
export interface CaseReview {
  unit: string
  unit_name: string
  level: string
  by: string
  at: number
  notice: string
  notice_until: number
}

export interface CasePage {
  items: Case[]
  /** the number of matching cases; a lower bound when `total_exact` is false (the count stops) */
  total: number
  /** absent on older servers: exact */
  total_exact?: boolean
}

export interface CaseEvent {
  id: number
  at: number
  actor_name: string
  party: string
  /** a CaseAction, or a clock event (warning_half, warning_three_quarters, breached, on_time) */
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

export interface CaseReporterView {
  name: string | null
  /** masked */
  phone: string | null
  confidential: boolean
}

export interface CaseDetail extends Case {
  reporter: CaseReporterView | null
  events: CaseEvent[]
  assignments: CaseAssignment[]
  allowed: CaseAction[]
  parties: CaseParty[]
  merged: { id: number; number: string }[]
}

export interface CaseReporterContact {
  name: string | null
  phone: string | null
}

/** The body of POST /api/v1/cases/{id}/actions/{action}. */
export interface CaseStep {
  version: number
  note?: string
  media?: number[]
  departments?: { id: number; lead: boolean }[]
  department_id?: number
  category?: string
  urgent?: boolean
  nature?: string
  rating?: string
  hours?: number
  days?: number
  approve?: boolean
  deadline?: string
  into?: number
}

export interface CaseCategorySuggestion {
  code: string
  name: string
  score: number
}

export interface CaseSuggestions {
  categories: CaseCategorySuggestion[]
  duplicates: Case[]
}

export interface CaseOverdueRow {
  key: string
  name: string
  count: number
}

export interface CaseOverdueBoard {
  by_unit: CaseOverdueRow[]
  by_department: CaseOverdueRow[]
  items: Case[]
}

/** One cell of the dashboard's figures: cases in a state, of a category, overdue or not (n > 0). */
export interface CaseStatsCount {
  state: CaseState
  category: string | null
  category_name: string | null
  overdue: boolean
  n: number
}

/** Cases reported and closed on one day (the deployment's time zone). */
export interface CaseStatsDay {
  /** YYYY-MM-DD */
  day: string
  reported: number
  closed: number
}

/** GET /api/v1/stats/cases: the dashboard's figures for a unit and everything under it. */
export interface CaseStats {
  unit: UnitRef
  as_of: number
  total: number
  open: number
  overdue: number
  closed: number
  counts: CaseStatsCount[]
  /** 90 days ending today, oldest first, zero-filled */
  trend: CaseStatsDay[]
}

export interface CaseMedia {
  id: number
  sha256: string
  content_type: string
  size: number
  created_at: number
}

// ---------- the catalogue, departments, the working calendar ----------

/** "4h" working hours or "5d" working days, per stage; a missing stage inherits. */
export interface StageLimits {
  accept?: string
  dispatch?: string
  receive?: string
  handle?: string
  check?: string
}

export type CaseStage = keyof StageLimits

export type QuestionType = 'string' | 'number' | 'datetime' | 'text' | 'single' | 'multi' | 'bool'

export interface CategoryQuestion {
  key: string
  label: string
  type: QuestionType
  required: boolean
  options: string[]
}

export interface Category {
  code: string
  parent: string | null
  tree: string
  name: string
  key: string | null
  keywords: string[]
  filing: string
  closing: string
  department: string | null
  limits: StageLimits
  reward: boolean
  urgent: boolean
  radius_m: number | null
  questions: CategoryQuestion[]
}

export interface CatalogueTree {
  tree: string
  name: string
  prefix: string
  defaults: { limits: StageLimits; radius_m: number }
}

export interface DepartmentKind {
  key: string
  name: string
}

export interface Catalogue {
  version: number
  trees: CatalogueTree[]
  categories: Category[]
  department_kinds: DepartmentKind[]
}

export interface CatalogueVersion {
  id: number
  created_at: number
  created_by: string
  note: string
}

export interface DepartmentMember {
  user_id: number
  username: string
  display_name: string
}

export interface Department {
  id: number
  code: string
  name: string
  kind: string
  unit_code: string
  unit_name: string
  phone: string | null
  retired: boolean
  members: DepartmentMember[]
}

export interface CalendarDay {
  /** YYYY-MM-DD */
  day: string
  /** holiday | workday */
  kind: string
  note: string
}

export interface WorkCalendar {
  /** "08:30-12:00" */
  office_hours: string[]
  /** Monday = 1 */
  weekdays: number[]
  days: CalendarDay[]
}

export interface DeadlineResult {
  deadline: string
  deadline_ms: number | null
}

// ---------- notifications and the webhook outbox ----------

export interface CaseNotification {
  id: number
  case_id: number | null
  kind: string
  title: string
  body: string
  created_at: number
  read_at: number | null
}

export interface NotificationPage {
  items: CaseNotification[]
  unread: number
}

export interface OutboxItem {
  id: number
  target: string
  payload: unknown
  created_at: number
  attempts: number
  next_attempt_at: number
  last_error: string | null
  delivered_at: number | null
  dead: boolean
}

// ---------- external systems (Open311 clients, webhooks, incoming events) ----------

export type WebhookEvent = 'case.created' | 'case.state_changed'
export type IngestRuleOp = 'eq' | 'prefix' | 'contains' | 'gte' | 'lte'

/** Turns an incoming event into a case category; the first rule that matches decides. */
export interface IngestRule {
  /** A dotted path into the event's JSON (`type`, `data.level`). */
  field: string
  op: IngestRuleOp
  value: string
  /** A leaf category code of the catalogue. */
  category: string
  urgent: boolean
}

export interface ExternalSystem {
  id: number
  name: string
  title: string
  channel: string
  key_prefix: string
  unit_code: string
  unit_name: string
  rate_limit: number
  webhook_url: string | null
  webhook_events: WebhookEvent[]
  rules: IngestRule[]
  active: boolean
  created_at: number
  updated_at: number
  last_used_at: number | null
}

export type ExternalSecretKind = 'api_key' | 'webhook_secret' | 'ingest_secret'

/** The answer of a create or a rotation: the secrets are in it once, never again. */
export interface ExternalSystemSecrets {
  system: ExternalSystem
  secrets: Partial<Record<ExternalSecretKind, string>>
}
