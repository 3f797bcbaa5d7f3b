// Wire types, as described in docs/api.md.

export interface User {
  id: number
  username: string
  display_name: string
  /** absent or null when no phone is recorded */
  phone_masked?: string | null
  disabled: boolean
  created_at: number
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

export interface Meta {
  levels: Level[]
  roles: Role[]
  password_policy: PasswordPolicy
  version: string
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

export interface Items<T> {
  items: T[]
}

export interface ApiErrorBody {
  code: string
  message: string
  message_zh: string
  details: unknown
}
