//! API errors: `{"code", "message", "message_zh", "details"}` with stable snake_case codes.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use wangge_domain::DomainError;
use wangge_store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub code: &'static str,
    /// Overrides the catalogue's English message with something more specific.
    pub message: Option<String>,
    pub details: serde_json::Value,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    pub message_zh: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// Every error code the API answers with: HTTP status, English and Chinese message.
pub const CATALOGUE: &[(&str, u16, &str, &str)] = &[
    ("case_not_found", 404, "Case not found", "未找到该案件"),
    (
        "case_conflict",
        409,
        "The case was changed by someone else; reload it",
        "案件已被他人更新，请刷新后重试",
    ),
    (
        "illegal_transition",
        409,
        "The case's state does not allow this action",
        "案件当前状态不允许此操作",
    ),
    (
        "unknown_category",
        422,
        "Unknown category, or not a leaf category",
        "未知的事项类别或非末级类别",
    ),
    (
        "department_not_found",
        404,
        "Department not found",
        "未找到该部门",
    ),
    (
        "no_higher_level",
        409,
        "There is no higher level to escalate to",
        "没有可上报的上级",
    ),
    (
        "extension_pending",
        409,
        "An extension request is already waiting",
        "已有待审批的延期申请",
    ),
    (
        "no_extension_request",
        409,
        "There is no extension request to decide",
        "没有待审批的延期申请",
    ),
    (
        "media_too_large",
        413,
        "The photo or video is too large",
        "照片或视频超过大小限制",
    ),
    (
        "catalogue_invalid",
        422,
        "The catalogue has errors; nothing was saved",
        "事项目录有错误，未保存",
    ),
    (
        "answers_invalid",
        422,
        "The answers to the category's questions are invalid",
        "类别附加信息填写有误",
    ),
    ("unauthenticated", 401, "Please log in", "请先登录"),
    (
        "invalid_credentials",
        401,
        "Wrong username or password",
        "用户名或密码错误",
    ),
    (
        "account_locked",
        423,
        "Too many failed logins; try again later",
        "登录失败次数过多，请稍后再试",
    ),
    (
        "csrf_failed",
        403,
        "Missing or wrong CSRF token",
        "CSRF 校验失败",
    ),
    (
        "forbidden",
        403,
        "Your roles do not allow this",
        "无权执行此操作",
    ),
    ("not_found", 404, "Not found", "未找到"),
    ("unit_not_found", 404, "Unit not found", "未找到该区划单元"),
    ("user_not_found", 404, "User not found", "未找到该用户"),
    ("grant_not_found", 404, "Grant not found", "未找到该授权"),
    (
        "token_not_found",
        404,
        "API token not found",
        "未找到该令牌",
    ),
    (
        "report_not_found",
        404,
        "Import report not found",
        "未找到该导入报告",
    ),
    (
        "validation_failed",
        422,
        "A field is invalid",
        "字段校验失败",
    ),
    (
        "password_policy",
        422,
        "The password is too weak",
        "密码强度不足",
    ),
    (
        "duplicate_code",
        409,
        "A unit with this code already exists",
        "代码已存在",
    ),
    (
        "unknown_parent",
        422,
        "The parent unit does not exist",
        "上级单元不存在",
    ),
    (
        "bad_code_format",
        422,
        "The code does not fit its level",
        "代码格式与层级不符",
    ),
    ("unknown_level", 422, "Unknown level", "未知层级"),
    (
        "level_out_of_order",
        422,
        "A unit's level must be below its parent's",
        "层级必须低于上级单元",
    ),
    ("unit_retired", 409, "The unit is retired", "该单元已撤销"),
    (
        "unit_has_children",
        409,
        "Retire the active children first",
        "请先撤销其下级单元",
    ),
    (
        "move_into_own_subtree",
        422,
        "A unit cannot move below itself",
        "不能移动到自身的下级",
    ),
    (
        "username_taken",
        409,
        "The username is in use",
        "用户名已被占用",
    ),
    (
        "grant_exists",
        409,
        "The user already has this grant",
        "该用户已有此授权",
    ),
    (
        "import_rejected",
        422,
        "The import had errors; nothing was imported",
        "导入文件有错误，未导入任何数据",
    ),
    (
        "unsupported_media_type",
        415,
        "Unsupported content type",
        "不支持的内容类型",
    ),
    (
        "payload_too_large",
        413,
        "The request body is too large",
        "请求体过大",
    ),
    (
        "malformed_json",
        400,
        "The body is not valid JSON",
        "请求体不是有效的 JSON",
    ),
    (
        "unknown_field",
        400,
        "The body has an unknown field",
        "请求体包含未知字段",
    ),
    ("bad_parameter", 400, "A parameter is invalid", "参数无效"),
    (
        "overloaded",
        503,
        "The server is serving as many requests as it can; retry in a moment",
        "服务器繁忙，请稍后重试",
    ),
    (
        "database_unavailable",
        503,
        "The database cannot be reached",
        "数据库不可用",
    ),
    (
        "no_boundary",
        404,
        "The unit has no boundary at that date",
        "该单元在该日期没有边界",
    ),
    (
        "outside_grids",
        404,
        "The point lies in no grid",
        "该位置不在任何网格内",
    ),
    (
        "topology_invalid",
        422,
        "The geometry is invalid",
        "边界图形无效",
    ),
    (
        "topology_warnings",
        409,
        "Overlaps, gaps or parts outside the parent: confirm to save",
        "存在重叠、缝隙或超出上级范围，确认后保存",
    ),
    (
        "boundary_import_rejected",
        422,
        "The boundary file has errors; nothing was imported",
        "边界文件有错误，未导入任何数据",
    ),
    (
        "boundary_change_required",
        409,
        "Redraw an existing grid boundary through a grid change",
        "已有边界的网格须通过网格调整重新划定",
    ),
    (
        "change_not_found",
        404,
        "Grid change not found",
        "未找到该网格调整",
    ),
    (
        "change_not_proposed",
        409,
        "The change was already decided",
        "该调整已审批",
    ),
    (
        "change_not_approved",
        409,
        "The change is not approved (or not due yet)",
        "该调整尚未批准或未到生效日期",
    ),
    (
        "change_self_approval",
        409,
        "A change is approved by someone other than its proposer",
        "调整须由提出人以外的人员审批",
    ),
    (
        "change_needs_level_above",
        403,
        "Approval needs write access to the level above",
        "须由上一级审批",
    ),
    (
        "change_invalid",
        422,
        "The grids or parts do not fit this kind of change",
        "调整的网格或分块不符合要求",
    ),
    (
        "assignment_not_found",
        404,
        "Team assignment not found",
        "未找到该人员配备记录",
    ),
    (
        "assignment_exists",
        409,
        "This person already holds this role here",
        "该人员已在此网格担任该职务",
    ),
    (
        "qualification_exception_required",
        422,
        "Record why this worker is taken on despite the age or education rule",
        "不符合年龄或学历要求，须填写例外说明",
    ),
    (
        "photo_not_found",
        404,
        "The user has no photo",
        "该用户没有照片",
    ),
    (
        "invalid_api_key",
        403,
        "Missing or invalid API key",
        "缺少或无效的 API 密钥",
    ),
    (
        "rate_limited",
        429,
        "Too many requests; wait and try again",
        "请求过于频繁，请稍后再试",
    ),
    (
        "invalid_signature",
        401,
        "The signature is missing, wrong or too old",
        "签名缺失、错误或已过期",
    ),
    (
        "external_system_not_found",
        404,
        "External system not found",
        "未找到该外部系统",
    ),
    (
        "outside_territory",
        422,
        "The place lies outside the territory of this system",
        "该地点不在本系统的辖区范围内",
    ),
    (
        "unknown_service",
        404,
        "Unknown service_code",
        "未知的服务类别（service_code）",
    ),
    (
        "jurisdiction_not_found",
        404,
        "jurisdiction_id not found",
        "未找到该辖区（jurisdiction_id）",
    ),
    ("duplicate_name", 409, "The name is taken", "该名称已被使用"),
    ("internal_error", 500, "Internal error", "服务器内部错误"),
];

/// The Chinese message of a catalogued code (also used for import row errors).
pub fn message_zh(code: &str) -> Option<&'static str> {
    CATALOGUE
        .iter()
        .find(|(c, ..)| *c == code)
        .map(|(.., zh)| *zh)
}

/// The English message of a catalogued code.
pub fn message_en(code: &str) -> &'static str {
    lookup(code).1
}

fn lookup(code: &str) -> (u16, &'static str, &'static str) {
    CATALOGUE
        .iter()
        .find(|(c, ..)| *c == code)
        .map(|(_, s, en, zh)| (*s, *en, *zh))
        .unwrap_or((500, "Internal error", "服务器内部错误"))
}

impl ApiError {
    pub fn new(code: &'static str) -> Self {
        ApiError {
            code,
            message: None,
            details: serde_json::Value::Null,
        }
    }
    pub fn msg(mut self, m: impl Into<String>) -> Self {
        self.message = Some(m.into());
        self
    }
    pub fn details(mut self, d: serde_json::Value) -> Self {
        self.details = d;
        self
    }
    pub fn field(field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        ApiError::new("validation_failed")
            .msg(format!("{field}: {reason}"))
            .details(serde_json::json!({"field": field, "reason": reason}))
    }
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(lookup(self.code).0).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (_, en, zh) = lookup(self.code);
        let status = self.status();
        let body = ErrorBody {
            code: self.code.to_string(),
            message: self.message.unwrap_or_else(|| en.to_string()),
            message_zh: zh.to_string(),
            details: self.details,
        };
        let retry = body.details.get("retry_after_s").and_then(|v| v.as_i64());
        let mut resp = (status, Json(body)).into_response();
        if let Some(secs) = retry
            && let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        resp
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let details = match &e {
            DomainError::PasswordPolicy {
                min_length,
                min_classes,
            } => {
                serde_json::json!({"min_length": min_length, "min_classes": min_classes})
            }
            DomainError::Validation { field, reason } => {
                serde_json::json!({"field": field, "reason": reason})
            }
            _ => serde_json::Value::Null,
        };
        ApiError::new(e.code()).msg(e.to_string()).details(details)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(kind) => ApiError::new(match kind {
                "unit" => "unit_not_found",
                "user" => "user_not_found",
                "grant" => "grant_not_found",
                "token" => "token_not_found",
                "report" => "report_not_found",
                "boundary" => "no_boundary",
                "change" => "change_not_found",
                "assignment" => "assignment_not_found",
                "photo" => "photo_not_found",
                "case" => "case_not_found",
                "department" => "department_not_found",
                "external system" => "external_system_not_found",
                _ => "not_found",
            }),
            StoreError::Rejected { code, message } => ApiError::new(code).msg(message),
            StoreError::Domain(d) => d.into(),
            StoreError::ImportRejected(rows) => ApiError::new("import_rejected")
                .details(serde_json::json!({"error_count": rows.len()})),
            StoreError::Unavailable(m) => {
                tracing::error!("database unavailable: {m}");
                ApiError::new("database_unavailable")
            }
            StoreError::Config(m) | StoreError::Database(m) => {
                tracing::error!("database error: {m}");
                ApiError::new("internal_error")
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_snake_case_and_bilingual() {
        for (code, status, en, zh) in CATALOGUE {
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
            assert!((400..600).contains(status));
            assert!(!en.is_empty() && !zh.is_empty());
        }
    }

    #[test]
    fn domain_codes_are_in_the_catalogue() {
        for code in [
            "unknown_level",
            "bad_code_format",
            "level_out_of_order",
            "validation_failed",
            "password_policy",
        ] {
            assert!(CATALOGUE.iter().any(|(c, ..)| *c == code), "{code}");
        }
    }
}
