//! The case catalogue as data: category trees (网格事项, 矛盾纠纷, 数字城管 部件/事件, 12345 热线)
//! with per-stage time limits, filing and closing conditions, default departments, extra
//! questions and classifier keys, plus the department kinds they route to.
//!
//! Each tree is a TOML file (`data/catalogue/*.toml`); the shipped files are defaults that a
//! deployment edits, imports and exports. [`Catalogue::validate`] reports every problem at once.
//! Limits, radius, department, urgency and reward inherit down the tree; see
//! [`Catalogue::effective_limits`] and its siblings.

use crate::DomainError;
use crate::sla::Limit;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

/// Duplicate-search radius when neither a category nor its tree sets one (FixMyStreet's 250 m).
pub const DEFAULT_RADIUS_M: u32 = 250;
/// Longest answer to a `string` question, in characters.
pub const MAX_STRING_CHARS: usize = 200;
/// Longest answer to a `text` question, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Largest amount a limit may state ("9999h", "9999d").
const MAX_LIMIT_AMOUNT: u32 = 9999;

/// The shipped catalogue files, by file name: the four trees, then the department kinds.
pub const BUILTIN_FILES: [(&str, &str); 5] = [
    (
        "grid.toml",
        include_str!("../../../data/catalogue/grid.toml"),
    ),
    (
        "disputes.toml",
        include_str!("../../../data/catalogue/disputes.toml"),
    ),
    (
        "urban.toml",
        include_str!("../../../data/catalogue/urban.toml"),
    ),
    (
        "hotline.toml",
        include_str!("../../../data/catalogue/hotline.toml"),
    ),
    (
        "departments.toml",
        include_str!("../../../data/catalogue/departments.toml"),
    ),
];

// ───────────────────────────── stages and limits ─────────────────────────────

/// The timed stages of a case (GB/T 30428.8 closed loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 受理: the report is accepted (or refused) and filed.
    Accept,
    /// 派遣: the case is dispatched to the responsible department.
    Dispatch,
    /// 部门签收: the department signs for it.
    Receive,
    /// 处置: the department handles it.
    Handle,
    /// 核查: the field worker checks the result on site.
    Check,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Accept,
        Stage::Dispatch,
        Stage::Receive,
        Stage::Handle,
        Stage::Check,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Stage::Accept => "accept",
            Stage::Dispatch => "dispatch",
            Stage::Receive => "receive",
            Stage::Handle => "handle",
            Stage::Check => "check",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Stage::Accept => "受理",
            Stage::Dispatch => "派遣",
            Stage::Receive => "部门签收",
            Stage::Handle => "处置",
            Stage::Check => "核查",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Stage::Accept => "Accept",
            Stage::Dispatch => "Dispatch",
            Stage::Receive => "Receive",
            Stage::Handle => "Handle",
            Stage::Check => "Check",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.key() == s)
    }
}

/// `"4h"` → 4 working hours, `"5d"` → 5 working days. The amount is 1–9999 plain digits.
pub fn parse_limit(s: &str) -> Result<Limit, DomainError> {
    let bad = || {
        DomainError::validation(
            "limit",
            format!("bad limit `{s}`: want working hours like `4h` or working days like `5d`"),
        )
    };
    let s = s.trim();
    let (digits, days) = match (s.strip_suffix('h'), s.strip_suffix('d')) {
        (Some(d), _) => (d, false),
        (_, Some(d)) => (d, true),
        _ => return Err(bad()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u32 = digits.parse().map_err(|_| bad())?;
    if n == 0 || n > MAX_LIMIT_AMOUNT {
        return Err(bad());
    }
    Ok(if days {
        Limit::WorkingDays(n)
    } else {
        Limit::WorkingHours(n)
    })
}

/// The inverse of [`parse_limit`]: `"4h"`, `"5d"`.
pub fn limit_text(limit: Limit) -> String {
    match limit {
        Limit::WorkingHours(h) => format!("{h}h"),
        Limit::WorkingDays(d) => format!("{d}d"),
    }
}

/// Limits as their text in TOML and JSON.
mod limit_serde {
    use super::{limit_text, parse_limit};
    use crate::sla::Limit;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Limit>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(l) => s.serialize_str(&limit_text(*l)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Limit>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| parse_limit(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// A limit per stage; a missing stage inherits (category → ancestors → tree defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StageLimits {
    #[serde(default, skip_serializing_if = "Option::is_none", with = "limit_serde")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "2h"))]
    pub accept: Option<Limit>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "limit_serde")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "4h"))]
    pub dispatch: Option<Limit>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "limit_serde")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "2h"))]
    pub receive: Option<Limit>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "limit_serde")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "5d"))]
    pub handle: Option<Limit>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "limit_serde")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "1d"))]
    pub check: Option<Limit>,
}

impl StageLimits {
    pub fn get(&self, stage: Stage) -> Option<Limit> {
        match stage {
            Stage::Accept => self.accept,
            Stage::Dispatch => self.dispatch,
            Stage::Receive => self.receive,
            Stage::Handle => self.handle,
            Stage::Check => self.check,
        }
    }

    pub fn set(&mut self, stage: Stage, limit: Option<Limit>) {
        let slot = match stage {
            Stage::Accept => &mut self.accept,
            Stage::Dispatch => &mut self.dispatch,
            Stage::Receive => &mut self.receive,
            Stage::Handle => &mut self.handle,
            Stage::Check => &mut self.check,
        };
        *slot = limit;
    }

    /// No stage set.
    pub fn is_empty(&self) -> bool {
        Stage::ALL.iter().all(|s| self.get(*s).is_none())
    }

    /// The stages without a limit.
    pub fn missing(&self) -> Vec<Stage> {
        Stage::ALL
            .into_iter()
            .filter(|s| self.get(*s).is_none())
            .collect()
    }

    /// These limits, with the unset stages taken from `fallback`.
    pub fn or(self, fallback: StageLimits) -> StageLimits {
        let mut out = self;
        for s in Stage::ALL {
            if out.get(s).is_none() {
                out.set(s, fallback.get(s));
            }
        }
        out
    }

    /// `{ accept = "2h", handle = "5d" }`, stages in order.
    fn inline_toml(&self) -> String {
        let parts: Vec<String> = Stage::ALL
            .iter()
            .filter_map(|s| {
                self.get(*s)
                    .map(|l| format!("{} = \"{}\"", s.key(), limit_text(l)))
            })
            .collect();
        format!("{{ {} }}", parts.join(", "))
    }
}

// ───────────────────────────── questions ─────────────────────────────

/// The type of an extra question asked when a case of a category is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum QuestionType {
    /// One line, at most 200 characters.
    String,
    /// A JSON number.
    Number,
    /// RFC 3339, or `YYYY-MM-DD HH:MM` local time.
    Datetime,
    /// Free text, at most 4000 characters.
    Text,
    /// One of the options.
    Single,
    /// A list of distinct options.
    Multi,
    Bool,
}

impl QuestionType {
    pub const ALL: [QuestionType; 7] = [
        QuestionType::String,
        QuestionType::Number,
        QuestionType::Datetime,
        QuestionType::Text,
        QuestionType::Single,
        QuestionType::Multi,
        QuestionType::Bool,
    ];

    pub fn key(self) -> &'static str {
        match self {
            QuestionType::String => "string",
            QuestionType::Number => "number",
            QuestionType::Datetime => "datetime",
            QuestionType::Text => "text",
            QuestionType::Single => "single",
            QuestionType::Multi => "multi",
            QuestionType::Bool => "bool",
        }
    }

    /// Single and multi choose among options; the others take none.
    pub fn has_options(self) -> bool {
        matches!(self, QuestionType::Single | QuestionType::Multi)
    }
}

/// An extra question of a category (e.g. 火灾: 是否有人员被困).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: QuestionType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub options: Vec<String>,
}

// ───────────────────────────── categories and trees ─────────────────────────────

/// One node of a tree: a 大类, 中类 or 小类.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Unique across all trees; starts with the tree's prefix.
    pub code: String,
    #[serde(default)]
    pub parent: Option<String>,
    /// The tree it belongs to; filled from the file when parsing.
    #[serde(default)]
    pub tree: String,
    pub name: String,
    /// The automatic classifier's label, unique across the catalogue.
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// 立案条件.
    #[serde(default)]
    pub filing: String,
    /// 结案条件.
    #[serde(default)]
    pub closing: String,
    /// Default responsible department kind; inherits.
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub limits: StageLimits,
    /// Earns a first-reporter reward (首报激励); true if any ancestor says so.
    #[serde(default)]
    pub reward: bool,
    /// Urgent (急要件) by default; true if any ancestor says so.
    #[serde(default)]
    pub urgent: bool,
    /// Duplicate-search radius in metres; inherits.
    #[serde(default)]
    pub radius_m: Option<u32>,
    /// `[[category.question]]` in TOML; `questions` (or `question`) in JSON.
    #[serde(default, alias = "question")]
    pub questions: Vec<Question>,
}

impl Category {
    /// A category with only the required fields set.
    pub fn new(tree: &str, code: &str, parent: Option<&str>, name: &str) -> Self {
        Category {
            code: code.into(),
            parent: parent.map(Into::into),
            tree: tree.into(),
            name: name.into(),
            key: None,
            keywords: Vec::new(),
            filing: String::new(),
            closing: String::new(),
            department: None,
            limits: StageLimits::default(),
            reward: false,
            urgent: false,
            radius_m: None,
            questions: Vec::new(),
        }
    }
}

/// Used by a tree when neither a category nor its ancestors set a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default)]
    pub limits: StageLimits,
    #[serde(default = "default_radius")]
    pub radius_m: u32,
}

fn default_radius() -> u32 {
    DEFAULT_RADIUS_M
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            limits: StageLimits::default(),
            radius_m: DEFAULT_RADIUS_M,
        }
    }
}

/// A tree's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TreeInfo {
    /// `grid`, `disputes`, `urban`, `hotline`, or a deployment's own.
    pub tree: String,
    pub name: String,
    /// Every code of the tree starts with it.
    pub prefix: String,
    pub defaults: Defaults,
}

/// One tree file as written.
///
/// The TOML field for the categories is `category` (`[[category]]`), and a category's questions
/// are `[[category.question]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeFile {
    pub tree: String,
    pub name: String,
    pub prefix: String,
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub category: Vec<Category>,
}

/// Parse errors of TOML text, as a catalogue error naming `what`.
fn toml_error(what: &str, e: toml::de::Error) -> DomainError {
    DomainError::CatalogueInvalid(format!("{what}: {}", e.to_string().trim_end()))
}

/// A TOML string literal, escaped.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn quoted_list(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| quoted(s)).collect();
    format!("[{}]", parts.join(", "))
}

impl TreeFile {
    /// Parses one tree file; each category's `tree` is set from the file. Only the syntax, the
    /// field names and the limit texts are checked here; [`Catalogue::validate`] does the rest.
    pub fn parse(text: &str) -> Result<TreeFile, DomainError> {
        let mut file: TreeFile = toml::from_str(text).map_err(|e| toml_error("tree file", e))?;
        for c in &mut file.category {
            c.tree.clone_from(&file.tree);
        }
        Ok(file)
    }

    pub fn info(&self) -> TreeInfo {
        TreeInfo {
            tree: self.tree.clone(),
            name: self.name.clone(),
            prefix: self.prefix.clone(),
            defaults: self.defaults,
        }
    }

    /// The file in the shipped format (inline limits, `[[category.question]]` tables, unset
    /// fields left out); [`TreeFile::parse`] reads it back equal.
    pub fn to_toml(&self) -> String {
        let mut o = String::new();
        // writing to a String cannot fail
        let _ = writeln!(o, "tree = {}", quoted(&self.tree));
        let _ = writeln!(o, "name = {}", quoted(&self.name));
        let _ = writeln!(o, "prefix = {}", quoted(&self.prefix));
        let _ = writeln!(o, "\n[defaults]");
        if !self.defaults.limits.is_empty() {
            let _ = writeln!(o, "limits = {}", self.defaults.limits.inline_toml());
        }
        let _ = writeln!(o, "radius_m = {}", self.defaults.radius_m);
        for c in &self.category {
            let _ = writeln!(o, "\n[[category]]");
            let _ = writeln!(o, "code = {}", quoted(&c.code));
            if let Some(p) = &c.parent {
                let _ = writeln!(o, "parent = {}", quoted(p));
            }
            let _ = writeln!(o, "name = {}", quoted(&c.name));
            if let Some(k) = &c.key {
                let _ = writeln!(o, "key = {}", quoted(k));
            }
            if !c.keywords.is_empty() {
                let _ = writeln!(o, "keywords = {}", quoted_list(&c.keywords));
            }
            if !c.filing.is_empty() {
                let _ = writeln!(o, "filing = {}", quoted(&c.filing));
            }
            if !c.closing.is_empty() {
                let _ = writeln!(o, "closing = {}", quoted(&c.closing));
            }
            if let Some(d) = &c.department {
                let _ = writeln!(o, "department = {}", quoted(d));
            }
            if !c.limits.is_empty() {
                let _ = writeln!(o, "limits = {}", c.limits.inline_toml());
            }
            if c.reward {
                let _ = writeln!(o, "reward = true");
            }
            if c.urgent {
                let _ = writeln!(o, "urgent = true");
            }
            if let Some(r) = c.radius_m {
                let _ = writeln!(o, "radius_m = {r}");
            }
            for q in &c.questions {
                let _ = writeln!(o, "\n[[category.question]]");
                let _ = writeln!(o, "key = {}", quoted(&q.key));
                let _ = writeln!(o, "label = {}", quoted(&q.label));
                let _ = writeln!(o, "type = {}", quoted(q.kind.key()));
                if q.required {
                    let _ = writeln!(o, "required = true");
                }
                if !q.options.is_empty() {
                    let _ = writeln!(o, "options = {}", quoted_list(&q.options));
                }
            }
        }
        o
    }
}

// ───────────────────────────── department kinds ─────────────────────────────

/// A kind of responsible body (公安, 民政, 供电公司 …); a deployment maps it to real units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DepartmentKind {
    pub key: String,
    pub name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepartmentsFile {
    #[serde(default)]
    department: Vec<DepartmentKind>,
}

/// Parses `[[department]]` tables of `key` and `name`.
pub fn parse_department_kinds(text: &str) -> Result<Vec<DepartmentKind>, DomainError> {
    let file: DepartmentsFile =
        toml::from_str(text).map_err(|e| toml_error("department kinds", e))?;
    Ok(file.department)
}

/// The inverse of [`parse_department_kinds`].
pub fn department_kinds_toml(kinds: &[DepartmentKind]) -> String {
    let mut o = String::new();
    for (i, k) in kinds.iter().enumerate() {
        let sep = if i == 0 { "" } else { "\n" };
        let _ = writeln!(
            o,
            "{sep}[[department]]\nkey = {}\nname = {}",
            quoted(&k.key),
            quoted(&k.name)
        );
    }
    o
}

// ───────────────────────────── the catalogue ─────────────────────────────

/// One thing wrong with a catalogue.
///
/// `code` is the kind of problem, stable and snake_case: `tree_invalid`, `tree_duplicate`,
/// `tree_unknown`, `code_invalid`, `code_duplicate`, `code_prefix`, `name_empty`,
/// `parent_self`, `parent_missing`, `parent_other_tree`, `cycle`, `key_invalid`,
/// `key_duplicate`, `question_invalid`, `question_key_duplicate`, `options_missing`,
/// `options_unexpected`, `options_duplicate`, `department_unknown`, `department_invalid`,
/// `department_duplicate`, `limits_unresolved`, `radius_zero`. `subject` is what it is about: a
/// category code, a tree or a department kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogueProblem {
    pub code: String,
    pub subject: String,
    pub message_zh: String,
    pub message_en: String,
}

impl CatalogueProblem {
    fn new(code: &str, subject: &str, message_zh: String, message_en: String) -> Self {
        CatalogueProblem {
            code: code.into(),
            subject: subject.into(),
            message_zh,
            message_en,
        }
    }
}

/// All trees, their categories (in file order) and the department kinds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Catalogue {
    pub trees: Vec<TreeInfo>,
    pub categories: Vec<Category>,
    pub department_kinds: Vec<DepartmentKind>,
}

/// Lower-case ASCII letters, digits and `_`, starting with a letter.
fn is_snake_key(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// ASCII letters, digits, `-` and `_`, at most 32.
fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Catalogue {
    /// Puts parsed files together, without validating.
    pub fn from_files(files: Vec<TreeFile>, department_kinds: Vec<DepartmentKind>) -> Catalogue {
        let mut cat = Catalogue {
            department_kinds,
            ..Catalogue::default()
        };
        for f in files {
            cat.trees.push(f.info());
            cat.categories.extend(f.category);
        }
        cat
    }

    /// Parses the tree files and the department kinds and validates the whole; any problem is an
    /// error listing all of them.
    pub fn load(tree_texts: &[&str], departments_text: &str) -> Result<Catalogue, DomainError> {
        let files = tree_texts
            .iter()
            .map(|t| TreeFile::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        let cat = Catalogue::from_files(files, parse_department_kinds(departments_text)?);
        let problems = cat.validate();
        if problems.is_empty() {
            Ok(cat)
        } else {
            let list: Vec<String> = problems
                .iter()
                .map(|p| format!("{}: {}", p.subject, p.message_en))
                .collect();
            Err(DomainError::CatalogueInvalid(list.join("; ")))
        }
    }

    /// The shipped catalogue (`data/catalogue/`).
    pub fn builtin() -> Result<Catalogue, DomainError> {
        let [grid, disputes, urban, hotline, departments] = BUILTIN_FILES.map(|(_, text)| text);
        Catalogue::load(&[grid, disputes, urban, hotline], departments)
    }

    /// Every problem of the catalogue; empty when it is sound.
    pub fn validate(&self) -> Vec<CatalogueProblem> {
        let mut out = Vec::new();
        let mut p = |code: &str, subject: &str, zh: String, en: String| {
            out.push(CatalogueProblem::new(code, subject, zh, en));
        };

        // trees
        let mut trees: HashMap<&str, &TreeInfo> = HashMap::new();
        for t in &self.trees {
            if !is_snake_key(&t.tree) || t.name.trim().is_empty() || !is_code(&t.prefix) {
                p(
                    "tree_invalid",
                    &t.tree,
                    format!(
                        "分类树「{}」的标识须为小写英文、名称不能为空、前缀须为字母数字",
                        t.tree
                    ),
                    format!(
                        "tree `{}` needs a snake_case id, a name and an alphanumeric prefix",
                        t.tree
                    ),
                );
            }
            if trees.contains_key(t.tree.as_str()) {
                p(
                    "tree_duplicate",
                    &t.tree,
                    format!("分类树「{}」重复", t.tree),
                    format!("tree `{}` appears twice", t.tree),
                );
            } else {
                trees.insert(&t.tree, t);
            }
            if t.defaults.radius_m == 0 {
                p(
                    "radius_zero",
                    &t.tree,
                    format!("分类树「{}」的默认查重半径不能为 0", t.tree),
                    format!("tree `{}` has a default radius of 0", t.tree),
                );
            }
        }

        // department kinds
        let mut departments: HashSet<&str> = HashSet::new();
        for d in &self.department_kinds {
            if !is_snake_key(&d.key) || d.name.trim().is_empty() {
                p(
                    "department_invalid",
                    &d.key,
                    format!("部门类别「{}」的标识须为小写英文且名称不能为空", d.key),
                    format!(
                        "department kind `{}` needs a snake_case key and a name",
                        d.key
                    ),
                );
            }
            if !departments.insert(&d.key) {
                p(
                    "department_duplicate",
                    &d.key,
                    format!("部门类别「{}」重复", d.key),
                    format!("department kind `{}` appears twice", d.key),
                );
            }
        }

        // categories, one by one
        let mut by_code: HashMap<&str, &Category> = HashMap::new();
        let mut keys: HashSet<&str> = HashSet::new();
        for c in &self.categories {
            let code = c.code.as_str();
            if !is_code(code) {
                p(
                    "code_invalid",
                    code,
                    format!("类别编码「{code}」须为 1–32 位字母、数字、- 或 _"),
                    format!("category code `{code}` must be 1–32 letters, digits, - or _"),
                );
            }
            if by_code.insert(code, c).is_some() {
                p(
                    "code_duplicate",
                    code,
                    format!("类别编码「{code}」重复"),
                    format!("category code `{code}` appears twice"),
                );
            }
            match trees.get(c.tree.as_str()) {
                None => p(
                    "tree_unknown",
                    code,
                    format!("类别「{code}」所属分类树「{}」不存在", c.tree),
                    format!("category `{code}` belongs to the unknown tree `{}`", c.tree),
                ),
                Some(t) if !code.starts_with(t.prefix.as_str()) => p(
                    "code_prefix",
                    code,
                    format!("类别编码「{code}」须以分类树前缀「{}」开头", t.prefix),
                    format!(
                        "category code `{code}` does not start with the tree's prefix `{}`",
                        t.prefix
                    ),
                ),
                Some(_) => {}
            }
            if c.name.trim().is_empty() {
                p(
                    "name_empty",
                    code,
                    format!("类别「{code}」没有名称"),
                    format!("category `{code}` has no name"),
                );
            }
            if let Some(k) = &c.key {
                if !is_snake_key(k) {
                    p(
                        "key_invalid",
                        code,
                        format!("类别「{code}」的分类标签「{k}」须为小写英文、数字和下划线"),
                        format!("category `{code}` has the key `{k}`, which is not snake_case"),
                    );
                }
                if !keys.insert(k) {
                    p(
                        "key_duplicate",
                        code,
                        format!("分类标签「{k}」被多个类别使用"),
                        format!("the key `{k}` is used by more than one category"),
                    );
                }
            }
            if let Some(d) = &c.department
                && !self.department_kinds.iter().any(|k| &k.key == d)
            {
                p(
                    "department_unknown",
                    code,
                    format!("类别「{code}」的责任部门类别「{d}」不存在"),
                    format!("category `{code}` names the unknown department kind `{d}`"),
                );
            }
            if c.radius_m == Some(0) {
                p(
                    "radius_zero",
                    code,
                    format!("类别「{code}」的查重半径不能为 0"),
                    format!("category `{code}` has a radius of 0"),
                );
            }
            self.check_questions(c, &mut p);
        }

        // parents and cycles
        for c in &self.categories {
            let code = c.code.as_str();
            let Some(parent) = c.parent.as_deref() else {
                continue;
            };
            if parent == code {
                p(
                    "parent_self",
                    code,
                    format!("类别「{code}」不能以自身为上级"),
                    format!("category `{code}` is its own parent"),
                );
                continue;
            }
            match by_code.get(parent) {
                None => p(
                    "parent_missing",
                    code,
                    format!("类别「{code}」的上级「{parent}」不存在"),
                    format!("category `{code}` has the unknown parent `{parent}`"),
                ),
                Some(pc) if pc.tree != c.tree => p(
                    "parent_other_tree",
                    code,
                    format!(
                        "类别「{code}」的上级「{parent}」属于另一分类树「{}」",
                        pc.tree
                    ),
                    format!(
                        "category `{code}` has the parent `{parent}` from another tree `{}`",
                        pc.tree
                    ),
                ),
                Some(_) => {}
            }
            // walk up: coming back to `code` means it lies on a cycle
            let mut chain = vec![code];
            let mut cur = by_code.get(parent).copied();
            while let Some(a) = cur {
                if a.code == code {
                    chain.push(code);
                    let shown = chain.join(" → ");
                    p(
                        "cycle",
                        code,
                        format!("类别「{code}」的上级关系成环：{shown}"),
                        format!("category `{code}` lies on a cycle of parents: {shown}"),
                    );
                    break;
                }
                if chain.len() > self.categories.len() || a.parent.as_deref() == Some(&a.code) {
                    break;
                }
                chain.push(&a.code);
                cur = a.parent.as_deref().and_then(|pc| by_code.get(pc).copied());
            }
        }

        // every stage resolvable
        for c in &self.categories {
            let missing = self.effective_limits(&c.code).missing();
            if !missing.is_empty() {
                let zh: Vec<&str> = missing.iter().map(|s| s.name_zh()).collect();
                let en: Vec<&str> = missing.iter().map(|s| s.key()).collect();
                p(
                    "limits_unresolved",
                    &c.code,
                    format!(
                        "类别「{}」的{}环节没有时限(本类、上级和分类树默认值均未设置)",
                        c.code,
                        zh.join("、")
                    ),
                    format!(
                        "category `{}` has no limit for {} (neither it, its ancestors nor the tree defaults set one)",
                        c.code,
                        en.join(", ")
                    ),
                );
            }
        }
        out
    }

    fn check_questions(&self, c: &Category, p: &mut impl FnMut(&str, &str, String, String)) {
        let code = c.code.as_str();
        // the category's own questions and those it inherits must not share a key
        let inherited: Vec<&str> = self
            .path(code)
            .iter()
            .filter(|a| a.code != c.code)
            .flat_map(|a| a.questions.iter().map(|q| q.key.as_str()))
            .collect();
        let mut seen: HashSet<&str> = inherited.into_iter().collect();
        for q in &c.questions {
            let k = q.key.as_str();
            if !is_snake_key(k) || q.label.trim().is_empty() {
                p(
                    "question_invalid",
                    code,
                    format!("类别「{code}」的问题「{k}」须有小写英文标识和标签"),
                    format!("category `{code}`: question `{k}` needs a snake_case key and a label"),
                );
            }
            if !seen.insert(k) {
                p(
                    "question_key_duplicate",
                    code,
                    format!("类别「{code}」的问题标识「{k}」重复(含上级类别的问题)"),
                    format!(
                        "category `{code}`: question key `{k}` appears twice (its ancestors' questions included)"
                    ),
                );
            }
            if q.kind.has_options() && q.options.len() < 2 {
                p(
                    "options_missing",
                    code,
                    format!("类别「{code}」的选择题「{k}」至少需要两个选项"),
                    format!("category `{code}`: choice question `{k}` needs at least two options"),
                );
            }
            if !q.kind.has_options() && !q.options.is_empty() {
                p(
                    "options_unexpected",
                    code,
                    format!("类别「{code}」的问题「{k}」不是选择题，不能有选项"),
                    format!(
                        "category `{code}`: question `{k}` of type {} takes no options",
                        q.kind.key()
                    ),
                );
            }
            let distinct: HashSet<&str> = q.options.iter().map(|o| o.trim()).collect();
            if distinct.len() != q.options.len() || distinct.contains("") {
                p(
                    "options_duplicate",
                    code,
                    format!("类别「{code}」的问题「{k}」有重复或空白的选项"),
                    format!("category `{code}`: question `{k}` has duplicate or blank options"),
                );
            }
        }
    }

    pub fn tree(&self, tree: &str) -> Option<&TreeInfo> {
        self.trees.iter().find(|t| t.tree == tree)
    }

    /// One tree as a file: its header and its categories in order.
    pub fn tree_file(&self, tree: &str) -> Option<TreeFile> {
        let t = self.tree(tree)?;
        Some(TreeFile {
            tree: t.tree.clone(),
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            defaults: t.defaults,
            category: self
                .categories
                .iter()
                .filter(|c| c.tree == tree)
                .cloned()
                .collect(),
        })
    }

    /// One tree in the file format; empty for an unknown tree.
    pub fn to_tree_toml(&self, tree: &str) -> String {
        self.tree_file(tree)
            .map(|f| f.to_toml())
            .unwrap_or_default()
    }

    /// The department kinds in the file format.
    pub fn department_kinds_toml(&self) -> String {
        department_kinds_toml(&self.department_kinds)
    }

    pub fn get(&self, code: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.code == code)
    }

    /// The category with this classifier key.
    pub fn by_key(&self, key: &str) -> Option<&Category> {
        self.categories
            .iter()
            .find(|c| c.key.as_deref() == Some(key))
    }

    pub fn department_kind(&self, key: &str) -> Option<&DepartmentKind> {
        self.department_kinds.iter().find(|d| d.key == key)
    }

    /// The direct children, in order.
    pub fn children(&self, code: &str) -> Vec<&Category> {
        self.categories
            .iter()
            .filter(|c| c.parent.as_deref() == Some(code))
            .collect()
    }

    /// The top-level categories of a tree.
    pub fn roots(&self, tree: &str) -> Vec<&Category> {
        self.categories
            .iter()
            .filter(|c| c.tree == tree && c.parent.is_none())
            .collect()
    }

    /// Categories without children, in all trees.
    pub fn leaves(&self) -> Vec<&Category> {
        let parents: HashSet<&str> = self
            .categories
            .iter()
            .filter_map(|c| c.parent.as_deref())
            .collect();
        self.categories
            .iter()
            .filter(|c| !parents.contains(c.code.as_str()))
            .collect()
    }

    /// The leaves of one tree.
    pub fn leaves_of(&self, tree: &str) -> Vec<&Category> {
        self.leaves()
            .into_iter()
            .filter(|c| c.tree == tree)
            .collect()
    }

    /// The category and its ancestors, top first; empty for an unknown code. Stops at a cycle.
    pub fn path(&self, code: &str) -> Vec<&Category> {
        let mut out: Vec<&Category> = Vec::new();
        let mut cur = self.get(code);
        while let Some(c) = cur {
            if out.iter().any(|seen| seen.code == c.code) {
                break;
            }
            out.push(c);
            cur = c.parent.as_deref().and_then(|p| self.get(p));
        }
        out.reverse();
        out
    }

    fn defaults_of(&self, code: &str) -> Option<&Defaults> {
        let c = self.get(code)?;
        self.tree(&c.tree).map(|t| &t.defaults)
    }

    /// Each stage's limit from the category, else the nearest ancestor, else the tree defaults.
    /// Every stage is set in a valid catalogue; nothing is set for an unknown code.
    pub fn effective_limits(&self, code: &str) -> StageLimits {
        let mut out = StageLimits::default();
        for c in self.path(code).iter().rev() {
            out = out.or(c.limits);
        }
        match self.defaults_of(code) {
            Some(d) => out.or(d.limits),
            None => out,
        }
    }

    /// The duplicate-search radius: the category's, an ancestor's, the tree's, or 250 m.
    pub fn effective_radius(&self, code: &str) -> u32 {
        self.path(code)
            .iter()
            .rev()
            .find_map(|c| c.radius_m)
            .or_else(|| self.defaults_of(code).map(|d| d.radius_m))
            .unwrap_or(DEFAULT_RADIUS_M)
    }

    /// The default responsible department kind: the category's or the nearest ancestor's.
    pub fn effective_department(&self, code: &str) -> Option<String> {
        self.path(code)
            .iter()
            .rev()
            .find_map(|c| c.department.clone())
    }

    /// The questions to ask: the ancestors' (top first), then the category's own.
    pub fn effective_questions(&self, code: &str) -> Vec<Question> {
        self.path(code)
            .iter()
            .flat_map(|c| c.questions.iter().cloned())
            .collect()
    }

    /// Urgent (急要件) if the category or any ancestor says so.
    pub fn is_urgent(&self, code: &str) -> bool {
        self.path(code).iter().any(|c| c.urgent)
    }

    /// Earns a first-reporter reward if the category or any ancestor says so.
    pub fn is_reward(&self, code: &str) -> bool {
        self.path(code).iter().any(|c| c.reward)
    }
}

// ───────────────────────────── answers ─────────────────────────────

/// `YYYY-MM-DD HH:MM`, local time.
fn is_local_minute(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 16
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 => *c == b':',
            _ => c.is_ascii_digit(),
        })
        && jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", s).is_ok()
}

fn is_datetime(s: &str) -> bool {
    s.parse::<jiff::Timestamp>().is_ok() || is_local_minute(s)
}

/// Blank strings and empty lists count as not answered.
fn is_blank(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::String(s) => s.trim().is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Why an answer does not fit its question, if it does not.
fn answer_problem(q: &Question, v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match (q.kind, v) {
        (QuestionType::Number, Value::Number(_)) | (QuestionType::Bool, Value::Bool(_)) => None,
        (QuestionType::Number, _) => Some("must be a number".into()),
        (QuestionType::Bool, _) => Some("must be true or false".into()),
        (QuestionType::String, Value::String(s)) => (s.chars().count() > MAX_STRING_CHARS)
            .then(|| format!("longer than {MAX_STRING_CHARS} characters")),
        (QuestionType::Text, Value::String(s)) => (s.chars().count() > MAX_TEXT_CHARS)
            .then(|| format!("longer than {MAX_TEXT_CHARS} characters")),
        (QuestionType::Datetime, Value::String(s)) => {
            (!is_datetime(s)).then(|| format!("`{s}` is not an RFC 3339 time or YYYY-MM-DD HH:MM"))
        }
        (QuestionType::String | QuestionType::Text | QuestionType::Datetime, _) => {
            Some("must be a string".into())
        }
        (QuestionType::Single, Value::String(s)) => {
            (!q.options.contains(s)).then(|| format!("`{s}` is not one of {}", q.options.join("/")))
        }
        (QuestionType::Single, _) => Some("must be one of the options".into()),
        (QuestionType::Multi, Value::Array(items)) => {
            let mut seen = HashSet::new();
            for item in items {
                let Value::String(s) = item else {
                    return Some("must be a list of options".into());
                };
                if !q.options.contains(s) {
                    return Some(format!("`{s}` is not one of {}", q.options.join("/")));
                }
                if !seen.insert(s) {
                    return Some(format!("`{s}` is chosen twice"));
                }
            }
            None
        }
        (QuestionType::Multi, _) => Some("must be a list of options".into()),
    }
}

/// Checks the answers to a category's extra questions: every required one answered, each of the
/// right type, no unknown keys. The error lists every problem.
pub fn check_answers(
    questions: &[Question],
    answers: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), DomainError> {
    let mut problems: Vec<String> = Vec::new();
    for q in questions {
        let what = format!("{} ({})", q.key, q.label);
        match answers.get(&q.key) {
            Some(v) if !is_blank(v) => {
                if let Some(why) = answer_problem(q, v) {
                    problems.push(format!("{what}: {why}"));
                }
            }
            _ if q.required => problems.push(format!("{what}: required")),
            _ => {}
        }
    }
    let known: HashSet<&str> = questions.iter().map(|q| q.key.as_str()).collect();
    // sorted, so the message does not depend on the map's order
    let unknown: BTreeSet<&str> = answers
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    for k in unknown {
        problems.push(format!("{k}: no such question"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DomainError::AnswersInvalid(problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CLASSIFIER_KEYS: [&str; 37] = [
        "building_hazard",
        "consumer_dispute",
        "cooking_fume",
        "correction_release",
        "dog_nuisance",
        "drainage_blockage",
        "ebike_charging",
        "elderly_assistance",
        "elevator_fault",
        "exposed_garbage",
        "family_dispute",
        "fighting",
        "fire_hazard_corridor",
        "fire_incident",
        "fraud",
        "gas_hazard",
        "greenery_damage",
        "illegal_advertising",
        "illegal_construction",
        "illegal_parking",
        "land_dispute",
        "manhole_cover",
        "mental_patient",
        "neighbour_dispute",
        "noise",
        "open_burning",
        "property_dispute",
        "road_cleaning",
        "road_damage",
        "road_occupation_business",
        "social_security",
        "street_light",
        "theft",
        "wage_arrears",
        "water_pollution",
        "water_supply",
        "waterlogging",
    ];

    fn builtin() -> Catalogue {
        Catalogue::builtin().unwrap()
    }

    #[test]
    fn the_builtin_catalogue_is_sound() {
        let cat = builtin();
        assert_eq!(cat.validate(), Vec::new());
        for t in ["grid", "disputes", "urban", "hotline"] {
            assert!(cat.tree(t).is_some(), "tree {t}");
            assert!(!cat.leaves_of(t).is_empty(), "leaves of {t}");
        }
        assert!(cat.leaves_of("grid").len() >= 30);
        assert!(cat.leaves_of("hotline").len() >= 60);
        // every code extends its parent's code, and a leaf of every tree resolves all stages
        for c in &cat.categories {
            if let Some(p) = &c.parent {
                assert!(c.code.starts_with(p.as_str()), "{} under {p}", c.code);
            }
            assert!(cat.effective_limits(&c.code).missing().is_empty());
        }
        for k in [
            "public_security",
            "fire",
            "power",
            "gas",
            "letters",
            "street_office",
        ] {
            assert!(cat.department_kind(k).is_some(), "department {k}");
        }
    }

    #[test]
    fn the_grid_tree_carries_every_classifier_key() {
        let cat = builtin();
        let roots = cat.roots("grid");
        let names: Vec<&str> = roots.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "矛盾纠纷",
                "安全隐患",
                "治安稳定",
                "市容环境",
                "公共设施",
                "生态环境",
                "民生服务",
                "重点人员动态",
                "应急突发",
                "其他"
            ]
        );
        for (i, r) in roots.iter().enumerate() {
            assert_eq!(r.code, format!("G{:02}", i + 1));
            assert!(
                cat.children(&r.code).len() >= 2,
                "{} has few leaves",
                r.code
            );
        }
        assert_eq!(cat.get("G1099").map(|c| c.name.as_str()), Some("其他事项"));
        for k in CLASSIFIER_KEYS {
            let c = cat.by_key(k).unwrap_or_else(|| panic!("key {k} missing"));
            assert_eq!(c.tree, "grid");
            assert_eq!(cat.path(&c.code).len(), 2, "{k} is a 小类");
            assert!(cat.children(&c.code).is_empty(), "{k} is a leaf");
            assert!(
                (8..=20).contains(&c.keywords.len()),
                "{k} has {} keywords",
                c.keywords.len()
            );
            assert!(!c.filing.is_empty() && !c.closing.is_empty(), "{k}");
            assert!(cat.effective_department(&c.code).is_some(), "{k}");
        }
        let keyed = cat.categories.iter().filter(|c| c.key.is_some()).count();
        assert_eq!(keyed, CLASSIFIER_KEYS.len());
        for k in [
            "fire_incident",
            "gas_hazard",
            "fighting",
            "building_hazard",
            "waterlogging",
        ] {
            assert!(cat.is_urgent(&cat.by_key(k).unwrap().code), "{k}");
        }
        assert!(!cat.is_urgent(&cat.by_key("noise").unwrap().code));
        assert!(cat.is_reward(&cat.by_key("ebike_charging").unwrap().code));
        assert!(cat.is_reward(&cat.by_key("neighbour_dispute").unwrap().code));
        assert!(!cat.is_reward(&cat.by_key("street_light").unwrap().code));
        // the real limits of digital urban management
        let handle = |key: &str| cat.effective_limits(&cat.by_key(key).unwrap().code).handle;
        assert_eq!(handle("exposed_garbage"), Some(Limit::WorkingHours(4)));
        assert_eq!(handle("road_cleaning"), Some(Limit::WorkingHours(2)));
        assert_eq!(handle("greenery_damage"), Some(Limit::WorkingDays(5)));
        assert_eq!(handle("illegal_construction"), Some(Limit::WorkingHours(4)));
        // questions a real platform asks
        let fire = cat.effective_questions(&cat.by_key("fire_incident").unwrap().code);
        assert!(
            fire.iter()
                .any(|q| q.label == "是否有人员被困" && q.kind == QuestionType::Bool)
        );
        let wages = cat.effective_questions(&cat.by_key("wage_arrears").unwrap().code);
        let keys: Vec<&str> = wages.iter().map(|q| q.key.as_str()).collect();
        assert_eq!(keys, ["parties", "scale", "amount", "employer"]);
    }

    #[test]
    fn the_other_trees_follow_their_standards() {
        let cat = builtin();
        let types: Vec<&str> = cat
            .roots("disputes")
            .iter()
            .map(|c| c.code.as_str())
            .collect();
        let mut want: Vec<String> = (1..=16).map(|i| format!("D{i:02}")).collect();
        want.push("D99".into());
        assert_eq!(types, want);
        for t in cat.roots("disputes") {
            for sub in cat.children(&t.code) {
                assert_eq!(sub.code.len(), 5, "{}", sub.code);
            }
        }
        let urban_roots: Vec<&str> = cat.roots("urban").iter().map(|c| c.name.as_str()).collect();
        assert_eq!(urban_roots, ["部件", "事件"]);
        for l in cat.leaves_of("urban") {
            assert_eq!(l.code.len(), 6, "部件/事件 + 大类 + 小类: {}", l.code);
        }
        let code_of = |name: &str| {
            cat.categories
                .iter()
                .find(|c| c.tree == "urban" && c.name == name)
                .map(|c| c.code.clone())
                .unwrap()
        };
        let handle = |name: &str| cat.effective_limits(&code_of(name)).handle;
        assert_eq!(handle("暴露垃圾"), Some(Limit::WorkingHours(4)));
        assert_eq!(handle("道路保洁"), Some(Limit::WorkingHours(2)));
        assert_eq!(handle("绿地养护"), Some(Limit::WorkingDays(5)));
        assert_eq!(handle("私搭乱建"), Some(Limit::WorkingHours(4)));
        assert!(cat.is_urgent(&code_of("路面塌陷")));
        assert_eq!(cat.effective_radius(&code_of("路灯")), 50);
        for l in cat.leaves_of("hotline") {
            assert_eq!(
                cat.path(&l.code).len(),
                3,
                "3-level hotline tree: {}",
                l.code
            );
        }
    }

    #[test]
    fn limits_parse_and_print() {
        assert_eq!(parse_limit("4h").unwrap(), Limit::WorkingHours(4));
        assert_eq!(parse_limit("5d").unwrap(), Limit::WorkingDays(5));
        assert_eq!(parse_limit(" 20d ").unwrap(), Limit::WorkingDays(20));
        for bad in [
            "4x", "0h", "0d", "", "h", "4", "-1h", "+4h", "4 h", "4H", "1.5h", "10000h", "４h",
            "4时",
        ] {
            let e = parse_limit(bad).unwrap_err();
            assert_eq!(e.code(), "validation_failed", "{bad}");
        }
        for l in [Limit::WorkingHours(4), Limit::WorkingDays(5)] {
            assert_eq!(parse_limit(&limit_text(l)).unwrap(), l);
        }
        let sl = StageLimits {
            handle: Some(Limit::WorkingDays(10)),
            accept: Some(Limit::WorkingHours(1)),
            ..StageLimits::default()
        };
        assert_eq!(
            serde_json::to_value(sl).unwrap(),
            json!({"accept": "1h", "handle": "10d"})
        );
        let back: StageLimits =
            serde_json::from_value(json!({"accept": "1h", "handle": "10d"})).unwrap();
        assert_eq!(back, sl);
        assert_eq!(back.get(Stage::Handle), Some(Limit::WorkingDays(10)));
        assert_eq!(
            back.missing(),
            [Stage::Dispatch, Stage::Receive, Stage::Check]
        );
        assert!(serde_json::from_value::<StageLimits>(json!({"handle": "4x"})).is_err());
        assert!(serde_json::from_value::<StageLimits>(json!({"handel": "4h"})).is_err());
        // a bad limit in a file is refused when parsing
        let e = TreeFile::parse(
            "tree = \"t\"\nname = \"T\"\nprefix = \"T\"\n[[category]]\ncode = \"T1\"\nname = \"a\"\nlimits = { handle = \"0h\" }\n",
        )
        .unwrap_err();
        assert_eq!(e.code(), "catalogue_invalid");
        assert!(e.to_string().contains("0h"), "{e}");
    }

    #[test]
    fn stages_have_keys_and_names() {
        let keys: Vec<&str> = Stage::ALL.iter().map(|s| s.key()).collect();
        assert_eq!(keys, ["accept", "dispatch", "receive", "handle", "check"]);
        let zh: Vec<&str> = Stage::ALL.iter().map(|s| s.name_zh()).collect();
        assert_eq!(zh, ["受理", "派遣", "部门签收", "处置", "核查"]);
        for s in Stage::ALL {
            assert_eq!(Stage::parse(s.key()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.key()));
        }
        assert_eq!(Stage::parse("close"), None);
    }

    const SMALL: &str = r#"
tree = "grid"
name = "网格事项"
prefix = "G"
[defaults]
limits = { accept = "2h", dispatch = "4h", receive = "2h", handle = "5d", check = "1d" }
radius_m = 300

[[category]]
code = "G01"
name = "矛盾纠纷"
department = "judicial"
limits = { handle = "10d" }
reward = true
radius_m = 500

[[category]]
code = "G0101"
parent = "G01"
name = "邻里纠纷"
key = "neighbour_dispute"
limits = { accept = "1h" }
urgent = true

[[category]]
code = "G010101"
parent = "G0101"
name = "漏水"
department = "housing"
radius_m = 50

[[category]]
code = "G02"
name = "其他"
"#;

    const DEPARTMENTS: &str = r#"
[[department]]
key = "judicial"
name = "司法行政"

[[department]]
key = "housing"
name = "住房城乡建设"
"#;

    #[test]
    fn values_inherit_down_the_tree() {
        let cat = Catalogue::load(&[SMALL], DEPARTMENTS).unwrap();
        let l = cat.effective_limits("G010101");
        assert_eq!(l.accept, Some(Limit::WorkingHours(1))); // parent
        assert_eq!(l.handle, Some(Limit::WorkingDays(10))); // grandparent
        assert_eq!(l.dispatch, Some(Limit::WorkingHours(4))); // tree defaults
        assert_eq!(l.check, Some(Limit::WorkingDays(1)));
        assert_eq!(cat.effective_limits("G02"), {
            let t = cat.tree("grid").unwrap();
            t.defaults.limits
        });
        assert!(cat.effective_limits("nope").is_empty());

        assert_eq!(cat.effective_radius("G010101"), 50);
        assert_eq!(cat.effective_radius("G0101"), 500);
        assert_eq!(cat.effective_radius("G02"), 300);
        assert_eq!(cat.effective_radius("nope"), DEFAULT_RADIUS_M);

        assert_eq!(
            cat.effective_department("G010101").as_deref(),
            Some("housing")
        );
        assert_eq!(
            cat.effective_department("G0101").as_deref(),
            Some("judicial")
        );
        assert_eq!(cat.effective_department("G02"), None);

        assert!(cat.is_urgent("G010101") && cat.is_urgent("G0101"));
        assert!(!cat.is_urgent("G01") && !cat.is_urgent("G02"));
        assert!(cat.is_reward("G010101") && cat.is_reward("G01"));
        assert!(!cat.is_reward("G02") && !cat.is_reward("nope"));

        let path: Vec<&str> = cat
            .path("G010101")
            .iter()
            .map(|c| c.code.as_str())
            .collect();
        assert_eq!(path, ["G01", "G0101", "G010101"]);
        assert!(cat.path("nope").is_empty());
        let kids: Vec<&str> = cat
            .children("G01")
            .iter()
            .map(|c| c.code.as_str())
            .collect();
        assert_eq!(kids, ["G0101"]);
        let leaves: Vec<&str> = cat.leaves().iter().map(|c| c.code.as_str()).collect();
        assert_eq!(leaves, ["G010101", "G02"]);
        assert_eq!(cat.get("G0101").map(|c| c.tree.as_str()), Some("grid"));
    }

    const BAD: &str = r#"
tree = "grid"
name = "坏的"
prefix = "G"
[defaults]
limits = { accept = "2h", dispatch = "4h", receive = "2h", handle = "5d" }
radius_m = 250

[[category]]
code = "G01"
name = "一"
limits = { check = "1d" }

[[category]]
code = "G01"
name = "一again"
limits = { check = "1d" }

[[category]]
code = "X01"
parent = "G01"
name = "no prefix"
limits = { check = "1d" }

[[category]]
code = "G02"
parent = "G02"
name = "own parent"
limits = { check = "1d" }

[[category]]
code = "G03"
parent = "G99"
name = "lost parent"
limits = { check = "1d" }

[[category]]
code = "G04"
parent = "G05"
name = "cycle a"
limits = { check = "1d" }

[[category]]
code = "G05"
parent = "G04"
name = "cycle b"
limits = { check = "1d" }

[[category]]
code = "G06"
parent = "D01"
name = "  "
key = "same"
department = "nobody"
radius_m = 0

[[category]]
code = "G07"
name = "qs"
key = "same"
limits = { check = "1d" }

[[category.question]]
key = "a"
label = "A"
type = "single"
options = ["only"]

[[category.question]]
key = "a"
label = "A again"
type = "number"
options = ["x", "y"]

[[category.question]]
key = "Bad Key"
label = ""
type = "multi"
options = ["x", "x"]

[[category]]
code = "G0701"
parent = "G07"
name = "inherits a"
key = "Not-Snake"
limits = { check = "1d" }

[[category.question]]
key = "a"
label = "clash with parent"
type = "bool"

[[category]]
code = "G 8"
name = "bad code"
limits = { check = "1d" }
"#;

    const OTHER: &str = r#"
tree = "disputes"
name = "纠纷"
prefix = "D"
[defaults]
limits = { accept = "1d", dispatch = "1d", receive = "1d", handle = "20d", check = "3d" }

[[category]]
code = "D01"
name = "婚姻家庭"
"#;

    const BAD_DEPARTMENTS: &str = r#"
[[department]]
key = "judicial"
name = "司法行政"

[[department]]
key = "judicial"
name = "again"

[[department]]
key = "Bad Key"
name = ""
"#;

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut files = vec![
            TreeFile::parse(BAD).unwrap(),
            TreeFile::parse(OTHER).unwrap(),
            TreeFile::parse(OTHER).unwrap(),
        ];
        files[2].prefix = "D D".into();
        let mut cat =
            Catalogue::from_files(files, parse_department_kinds(BAD_DEPARTMENTS).unwrap());
        cat.trees[0].defaults.radius_m = 0;
        // a category whose tree does not exist (only possible when built by hand)
        cat.categories
            .push(Category::new("nowhere", "N01", None, "orphan"));
        let problems = cat.validate();
        let codes: HashSet<&str> = problems.iter().map(|p| p.code.as_str()).collect();
        let want = [
            "tree_invalid",
            "tree_duplicate",
            "tree_unknown",
            "code_invalid",
            "code_duplicate",
            "code_prefix",
            "name_empty",
            "parent_self",
            "parent_missing",
            "parent_other_tree",
            "cycle",
            "key_invalid",
            "key_duplicate",
            "question_invalid",
            "question_key_duplicate",
            "options_missing",
            "options_unexpected",
            "options_duplicate",
            "department_unknown",
            "department_invalid",
            "department_duplicate",
            "limits_unresolved",
            "radius_zero",
        ];
        for w in want {
            assert!(codes.contains(w), "{w} not reported: {problems:#?}");
        }
        assert_eq!(codes.len(), want.len(), "{codes:?}");
        let subjects = |code: &str| -> Vec<&str> {
            problems
                .iter()
                .filter(|p| p.code == code)
                .map(|p| p.subject.as_str())
                .collect()
        };
        assert_eq!(subjects("cycle"), ["G04", "G05"]);
        assert_eq!(subjects("code_prefix"), ["X01"]);
        assert_eq!(subjects("parent_other_tree"), ["G06"]);
        assert_eq!(subjects("question_key_duplicate"), ["G07", "G0701"]);
        assert_eq!(subjects("radius_zero"), ["grid", "G06"]);
        // G06 misses `check` (the grid defaults have none); N01 misses everything
        assert_eq!(subjects("limits_unresolved"), ["G06", "N01"]);
        for p in &problems {
            assert!(!p.message_zh.is_empty() && !p.message_en.is_empty());
        }
        // the loader refuses it, naming every problem
        let e = Catalogue::load(&[BAD, OTHER], BAD_DEPARTMENTS).unwrap_err();
        assert_eq!(e.code(), "catalogue_invalid");
        let text = e.to_string();
        assert!(text.contains("G04") && text.contains("Bad Key") && text.contains("nobody"));
    }

    #[test]
    fn files_refuse_unknown_fields() {
        let e = TreeFile::parse(
            "tree = \"t\"\nname = \"T\"\nprefix = \"T\"\n[[category]]\ncode = \"T1\"\nname = \"a\"\nurgnet = true\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("urgnet"), "{e}");
        assert!(TreeFile::parse("tree = \"t\"\nname = \"T\"\n").is_err());
        assert!(parse_department_kinds("[[department]]\nkey = \"x\"\n").is_err());
    }

    #[test]
    fn trees_round_trip_through_toml() {
        let cat = builtin();
        for (file, text) in &BUILTIN_FILES[..4] {
            let original = TreeFile::parse(text).unwrap();
            let exported = cat.to_tree_toml(&original.tree);
            let back = TreeFile::parse(&exported).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(back, original, "{file}");
            // and the export is stable
            assert_eq!(back.to_toml(), exported);
        }
        assert_eq!(cat.to_tree_toml("nope"), "");
        let kinds = parse_department_kinds(&cat.department_kinds_toml()).unwrap();
        assert_eq!(kinds, cat.department_kinds);

        // awkward text survives
        let mut f = TreeFile::parse(SMALL).unwrap();
        f.category[0].filing = "含 \"引号\"、反斜杠 \\ 和\n换行".into();
        f.category[0].keywords = vec!["a'b".into(), "c\"d".into()];
        f.category[0].questions.push(Question {
            key: "kind".into(),
            label: "类型".into(),
            kind: QuestionType::Multi,
            required: true,
            options: vec!["甲".into(), "乙".into()],
        });
        assert_eq!(TreeFile::parse(&f.to_toml()).unwrap(), f);
        // categories serialise to JSON with their questions
        let json = serde_json::to_value(&f.category[0]).unwrap();
        assert_eq!(json["questions"][0]["type"], "multi");
        assert_eq!(json["limits"], json!({"handle": "10d"}));
        let back: Category = serde_json::from_value(json).unwrap();
        assert_eq!(back, f.category[0]);
    }

    fn questions() -> Vec<Question> {
        let q = |key: &str, kind: QuestionType, required: bool, options: &[&str]| Question {
            key: key.into(),
            label: key.to_uppercase(),
            kind,
            required,
            options: options.iter().map(|s| (*s).into()).collect(),
        };
        vec![
            q("parties", QuestionType::Number, true, &[]),
            q("trapped", QuestionType::Bool, true, &[]),
            q("name", QuestionType::String, false, &[]),
            q("story", QuestionType::Text, false, &[]),
            q("when", QuestionType::Datetime, false, &[]),
            q("cause", QuestionType::Single, false, &["漏水", "噪音"]),
            q("tags", QuestionType::Multi, false, &["a", "b", "c"]),
        ]
    }

    fn answers(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        match v {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        }
    }

    #[test]
    fn answers_are_checked() {
        let qs = questions();
        let ok = [
            json!({"parties": 3, "trapped": false}),
            json!({
                "parties": 2.5, "trapped": true, "name": "张三", "story": "很长的经过",
                "when": "2026-11-23T10:00:00+08:00", "cause": "噪音", "tags": ["a", "c"]
            }),
            json!({"parties": 0, "trapped": false, "when": "2026-11-23 10:00", "tags": []}),
            json!({"parties": 1, "trapped": false, "when": "2026-11-23T02:00:00Z", "name": null}),
        ];
        for a in ok {
            assert_eq!(check_answers(&qs, &answers(a.clone())), Ok(()), "{a}");
        }
        let bad = [
            (
                json!({"trapped": false}),
                vec!["parties (PARTIES): required"],
            ),
            (
                json!({"parties": "3", "trapped": "no"}),
                vec!["must be a number", "must be true or false"],
            ),
            (
                json!({"parties": 1, "trapped": true, "name": "x".repeat(201)}),
                vec!["longer than 200"],
            ),
            (
                json!({"parties": 1, "trapped": true, "story": "x".repeat(4001)}),
                vec!["longer than 4000"],
            ),
            (
                json!({"parties": 1, "trapped": true, "when": "2026-11-23"}),
                vec!["not an RFC 3339"],
            ),
            (
                json!({"parties": 1, "trapped": true, "when": "2026-13-23 10:00"}),
                vec!["not an RFC 3339"],
            ),
            (
                json!({"parties": 1, "trapped": true, "when": 5}),
                vec!["must be a string"],
            ),
            (
                json!({"parties": 1, "trapped": true, "cause": "打架"}),
                vec!["`打架` is not one of 漏水/噪音"],
            ),
            (
                json!({"parties": 1, "trapped": true, "tags": ["a", "z"]}),
                vec!["`z` is not one of"],
            ),
            (
                json!({"parties": 1, "trapped": true, "tags": ["a", "a"]}),
                vec!["chosen twice"],
            ),
            (
                json!({"parties": 1, "trapped": true, "tags": "a"}),
                vec!["must be a list"],
            ),
            (
                json!({"parties": 1, "trapped": true, "extra": 1}),
                vec!["extra: no such question"],
            ),
            (
                json!({"parties": "  ", "trapped": true}),
                vec!["parties (PARTIES): required"],
            ),
        ];
        for (a, wants) in bad {
            let e = check_answers(&qs, &answers(a.clone())).unwrap_err();
            assert_eq!(e.code(), "answers_invalid");
            let text = e.to_string();
            for w in wants {
                assert!(text.contains(w), "{a}: `{text}` lacks `{w}`");
            }
        }
        // every problem at once
        let e = check_answers(
            &qs,
            &answers(json!({"cause": 1, "zzz": true, "aaa": false})),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "parties (PARTIES): required; trapped (TRAPPED): required; \
             cause (CAUSE): must be one of the options; aaa: no such question; zzz: no such question"
        );
    }

    #[test]
    fn builtin_questions_accept_sensible_answers() {
        let cat = builtin();
        let code = &cat.by_key("wage_arrears").unwrap().code;
        let qs = cat.effective_questions(code);
        assert_eq!(
            check_answers(
                &qs,
                &answers(json!({"parties": 12, "amount": 86000, "scale": "较大"}))
            ),
            Ok(())
        );
        assert!(check_answers(&qs, &answers(json!({"parties": 12}))).is_err());
    }
}
