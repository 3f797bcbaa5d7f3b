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
