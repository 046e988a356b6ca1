//! Policy documents: parsing with validation, and evaluation of requests.
//!
//! Parsing is strict: an unknown field, a wrong JSON type, an empty list, a
//! key given twice in one JSON object or anything this service could not
//! evaluate faithfully is refused with a message naming the statement and the
//! problem, rather than accepted and silently evaluated some other way.

use super::condition::{Condition, parse_conditions, show};
use super::session::names_role_of_session;
use super::{Decision, Request, glob_match};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Which kind of policy a document is, which decides whether statements name
/// principals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// A key policy: every statement must have a `Principal`.
    Key,
    /// An identity policy, attached to a principal: no statement may have a
    /// `Principal`.
    Identity,
}

/// Why a document was refused; maps to `MalformedPolicyDocumentException`.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The document is not JSON, or names a key twice in one object.
    #[error("The policy is not valid JSON: {0}")]
    Json(String),
    /// The document's top level is wrong (not an object, unknown field, bad
    /// `Version` or `Id`, no `Statement`).
    #[error("{0}")]
    Document(String),
    /// One statement is wrong.
    #[error("Statement {statement}: {problem}")]
    Statement {
        /// Which statement: its index in `Statement`, and its `Sid` if it has one.
        statement: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// A parsed, validated policy document.
#[derive(Clone, Debug)]
pub struct Policy {
    statements: Vec<Statement>,
}

/// One statement: who, what, on which resources, under which conditions.
#[derive(Clone, Debug)]
struct Statement {
    effect: Effect,
    /// The principals of a key policy statement; `None` in an identity policy.
    principals: Option<Vec<Principal>>,
    /// Lower-cased action patterns.
    actions: Patterns,
    resources: Patterns,
    conditions: Vec<Condition>,
}

/// A statement's `Effect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// A principal a statement can match. `Service`, `Federated` and
/// `CanonicalUser` principals are accepted but never match our callers, so
/// they are not kept.
#[derive(Clone, Debug)]
enum Principal {
    /// `"*"`: everyone.
    Everyone,
    /// `arn:aws:iam::ACCT:root` or `ACCT`: every principal of the account.
    Account(String),
    /// One principal, by exact ARN.
    Arn(String),
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: wildcard patterns, the
/// `Not...` form matching what the patterns do not.
#[derive(Clone, Debug)]
struct Patterns {
    patterns: Vec<String>,
    negated: bool,
}

/// How a statement's principals reach the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// By ARN, by `"*"`, as the account root itself, or via an identity policy.
    Direct,
    /// Through the caller's account.
    Account,
}

/// Policy versions; a document without `Version` is 2008-10-17.
const VERSIONS: [&str; 2] = ["2012-10-17", "2008-10-17"];
/// The version in which `${...}` is a policy variable.
const VARIABLES_VERSION: &str = "2012-10-17";

impl Policy {
    /// Whether any statement has a condition (else no request's condition
    /// keys can change what the policy decides).
    pub fn has_conditions(&self) -> bool {
        self.statements.iter().any(|s| !s.conditions.is_empty())
    }

    /// Whether a condition of this policy tests `key`, or, when `key` ends
    /// in `/` or `:`, any key of that family (names compare ignoring case).
    /// Lets the caller compute costly condition keys only when needed.
    pub fn mentions(&self, key: &str) -> bool {
        let family = key.ends_with('/') || key.ends_with(':');
        self.statements.iter().flat_map(|s| &s.conditions).any(|c| {
            if family {
                c.key()
                    .get(..key.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(key))
            } else {
                c.key().eq_ignore_ascii_case(key)
            }
        })
    }

    /// Parses and validates a policy document of the given kind.
    pub fn parse(doc: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let Value::Object(top) = parse_json(doc)? else {
            return Err(PolicyError::Document(
                "The policy must be a JSON object.".into(),
            ));
        };
        if let Some(field) = top
            .keys()
            .find(|k| !matches!(k.as_str(), "Version" | "Id" | "Statement"))
        {
            return Err(PolicyError::Document(format!(
                "The policy has an unknown field {field:?}; a policy has only Version, Id and \
                 Statement."
            )));
        }
        let version = match top.get("Version") {
            None => VERSIONS[1],
            Some(Value::String(v)) if VERSIONS.contains(&v.as_str()) => v.as_str(),
            Some(other) => {
                return Err(PolicyError::Document(format!(
                    "The policy Version must be \"2012-10-17\" or \"2008-10-17\", not {}.",
                    show(other)
                )));
            }
        };
        if let Some(id) = top.get("Id").filter(|id| !id.is_string()) {
            return Err(PolicyError::Document(format!(
                "The policy Id must be a string, not {}.",
                show(id)
            )));
        }
        let statements: Vec<&Value> = match top.get("Statement") {
            None => {
                return Err(PolicyError::Document(
                    "The policy must contain a Statement.".into(),
                ));
            }
            Some(Value::Array(list)) if list.is_empty() => {
                return Err(PolicyError::Document(
                    "The policy's Statement must not be an empty array.".into(),
                ));
            }
            Some(Value::Array(list)) => list.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            Some(other) => {
                return Err(PolicyError::Document(format!(
                    "The policy's Statement must be an object or an array of objects, not {}.",
                    show(other)
                )));
            }
        };
        let refuse_variables = version == VARIABLES_VERSION;
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(index, value)| {
                parse_statement(value, kind, refuse_variables).map_err(|problem| {
                    PolicyError::Statement {
                        statement: label(index, value),
                        problem,
                    }
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Policy { statements })
    }

    /// Decides a request: an applicable `Deny` wins, then an `Allow` that
    /// reaches the caller directly, then one that reaches it through its
    /// account; otherwise `NotApplicable`.
    pub fn evaluate(&self, request: &Request) -> Decision {
        let action = request.action.to_ascii_lowercase();
        let mut decision = Decision::NotApplicable;
        for statement in &self.statements {
            let Some(reach) = statement.reach(request.principal_arn, request.principal_account)
            else {
                continue;
            };
            if !statement.actions.matches(&action)
                || !statement.resources.matches(request.resource)
                || !statement
                    .conditions
                    .iter()
                    .all(|c| c.holds(request.context))
            {
                continue;
            }
            decision = match (statement.effect, reach, decision) {
                (Effect::Deny, _, _) => return Decision::Deny,
                (Effect::Allow, Reach::Direct, _) | (Effect::Allow, _, Decision::Allow) => {
                    Decision::Allow
                }
                (Effect::Allow, Reach::Account, _) => Decision::AllowAccount,
            };
        }
        decision
    }

    /// Whether the policy lets the principal (named directly or through its
    /// account) call `action` on `resource`, ignoring conditions: the
    /// `PutKeyPolicy` lockout check. An `Allow` counts whatever its
    /// conditions; a `Deny` blocks only when it has no conditions, since
    /// whether a conditional one applies depends on a request yet to come.
    pub fn allows_principal_action(
        &self,
        principal_arn: &str,
        principal_account: &str,
        action: &str,
        resource: &str,
    ) -> bool {
        let action = action.to_ascii_lowercase();
        let mut allowed = false;
        for statement in &self.statements {
            if statement.reach(principal_arn, principal_account).is_none()
                || !statement.actions.matches(&action)
                || !statement.resources.matches(resource)
            {
                continue;
            }
            match statement.effect {
                Effect::Deny if statement.conditions.is_empty() => return false,
                Effect::Deny => {}
                Effect::Allow => allowed = true,
            }
        }
        allowed
    }
}

impl Statement {
    /// How the statement's principals reach the caller, if they do. Principal
    /// ARNs compare exactly (case-sensitive); a role reaches its sessions.
    fn reach(&self, principal_arn: &str, principal_account: &str) -> Option<Reach> {
        let Some(principals) = &self.principals else {
            return Some(Reach::Direct);
        };
        let mut reach = None;
        for principal in principals {
            match principal {
                Principal::Everyone => return Some(Reach::Direct),
                Principal::Arn(arn)
                    if arn == principal_arn || names_role_of_session(arn, principal_arn) =>
                {
                    return Some(Reach::Direct);
                }
                Principal::Account(account) if account == principal_account => {
                    if is_account_root(principal_arn, account) {
                        return Some(Reach::Direct);
                    }
                    reach = Some(Reach::Account);
                }
                _ => {}
            }
        }
        reach
    }
}

impl Patterns {
    /// Whether `value` matches one of the patterns (none, when negated).
    fn matches(&self, value: &str) -> bool {
        self.patterns.iter().any(|p| glob_match(p, value)) != self.negated
    }
}

/// Whether `arn` is the root principal of `account` (`arn:PARTITION:iam::ACCT:root`).
fn is_account_root(arn: &str, account: &str) -> bool {
    arn.strip_prefix("arn:")
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(_, rest)| rest.strip_prefix("iam::"))
        .and_then(|rest| rest.strip_prefix(account))
        .is_some_and(|rest| rest == ":root")
}

/// How error messages name a statement: its index, and its `Sid` if any.
fn label(index: usize, statement: &Value) -> String {
    match statement.get("Sid") {
        Some(Value::String(sid)) => format!("#{index} (Sid {sid:?})"),
        _ => format!("#{index}"),
    }
}

/// Parses one statement; the error says what is wrong with it.
fn parse_statement(
    value: &Value,
    kind: PolicyKind,
    refuse_variables: bool,
) -> Result<Statement, String> {
    let Value::Object(fields) = value else {
        return Err(format!(
            "a statement must be a JSON object, not {}",
            show(value)
        ));
    };
    if let Some(field) = fields.keys().find(|k| {
        !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        )
    }) {
        return Err(format!(
            "unknown field {field:?}; a statement has only Sid, Effect, Principal, Action or \
             NotAction, Resource or NotResource, and Condition"
        ));
    }
    if let Some(sid) = fields.get("Sid").filter(|s| !s.is_string()) {
        return Err(format!("Sid must be a string, not {}", show(sid)));
    }
    let effect = match fields.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(format!(
                "Effect must be \"Allow\" or \"Deny\", not {}",
                show(other)
            ));
        }
        None => return Err("Effect is missing; it must be \"Allow\" or \"Deny\"".into()),
    };
    let principals = match (
        kind,
        fields.get("Principal"),
        fields.contains_key("NotPrincipal"),
    ) {
        (PolicyKind::Identity, Some(_), _) | (PolicyKind::Identity, _, true) => {
            return Err(
                "an identity policy must not name a Principal or NotPrincipal: it \
                        applies to the identity it is attached to"
                    .into(),
            );
        }
        (PolicyKind::Identity, None, false) => None,
        (PolicyKind::Key, _, true) => {
            return Err(
                "NotPrincipal is not supported; name the principals in Principal instead".into(),
            );
        }
        (PolicyKind::Key, Some(p), false) => Some(parse_principals(p)?),
        (PolicyKind::Key, None, false) => {
            return Err("a key policy statement must have a Principal".into());
        }
    };
    let actions = either(fields, "Action", "NotAction", action_pattern)?;
    let resources = either(fields, "Resource", "NotResource", |r| {
        resource_pattern(r, refuse_variables)
    })?;
    let conditions = match fields.get("Condition") {
        Some(c) => parse_conditions(c, refuse_variables)?,
        None => Vec::new(),
    };
    Ok(Statement {
        effect,
        principals,
        actions,
        resources,
        conditions,
    })
}

/// Exactly one of `field` and `not_field`, each pattern checked by `check`.
fn either(
    fields: &Map<String, Value>,
    field: &str,
    not_field: &str,
    check: impl Fn(&str) -> Result<String, String>,
) -> Result<Patterns, String> {
    let (value, name, negated) = match (fields.get(field), fields.get(not_field)) {
        (Some(v), None) => (v, field, false),
        (None, Some(v)) => (v, not_field, true),
        (Some(_), Some(_)) => {
            return Err(format!(
                "a statement must not have both {field} and {not_field}"
            ));
        }
        (None, None) => return Err(format!("a statement must have {field} or {not_field}")),
    };
    let patterns = strings(value, name)?
        .iter()
        .map(|s| check(s).map_err(|problem| format!("{name} {s:?} {problem}")))
        .collect::<Result<_, _>>()?;
    Ok(Patterns { patterns, negated })
}

/// A string, or a non-empty array of strings.
fn strings<'v>(value: &'v Value, name: &str) -> Result<Vec<&'v str>, String> {
    let bad = || {
        format!(
            "{name} must be a string or a non-empty array of strings, not {}",
            match value {
                Value::Array(list) if list.is_empty() => "an empty array".into(),
                Value::Array(_) => "an array with other values".into(),
                other => show(other),
            }
        )
    };
    match value {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(list) if !list.is_empty() => {
            list.iter().map(|v| v.as_str().ok_or_else(bad)).collect()
        }
        _ => Err(bad()),
    }
}

/// An action pattern, lower-cased: `*` or `service:Name`, where the name may
/// hold `*` and `?`. Any service is accepted (a key policy naming `s3:...`
/// actions is valid); only `kms:` ones can match a request to this service.
fn action_pattern(action: &str) -> Result<String, String> {
    let valid = action == "*"
        || action.split_once(':').is_some_and(|(service, name)| {
            !service.is_empty()
                && service
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'?' | b'-' | b'_'))
        });
    if valid {
        Ok(action.to_ascii_lowercase())
    } else {
        Err(
            "must be \"*\" or \"service:Action\" such as \"kms:Encrypt\" (with * and ? \
             wildcards allowed in the action name)"
                .into(),
        )
    }
}

/// A resource pattern: `*` or an ARN, possibly with wildcards, compared
/// case-sensitively. In a key policy `*` means the key itself.
fn resource_pattern(resource: &str, refuse_variables: bool) -> Result<String, String> {
    if resource != "*" && !(resource.starts_with("arn:") && resource.split(':').count() >= 6) {
        return Err(
            "must be \"*\" or an ARN (arn:partition:service:region:account:resource)".into(),
        );
    }
    if refuse_variables && resource.contains("${") {
        return Err("uses a policy variable; policy variables are not supported".into());
    }
    Ok(resource.to_string())
}

/// Parses `Principal`: `"*"` or `{"AWS": ..., "Service": ..., ...}`.
fn parse_principals(value: &Value) -> Result<Vec<Principal>, String> {
    let types = match value {
        Value::String(s) if s == "*" => return Ok(vec![Principal::Everyone]),
        Value::Object(types) if !types.is_empty() => types,
        other => {
            return Err(format!(
                "Principal must be \"*\" or an object such as {{\"AWS\": \
                 \"arn:aws:iam::111122223333:root\"}}, not {}",
                show(other)
            ));
        }
    };
    let mut principals = Vec::new();
    for (kind, list) in types {
        let name = format!("Principal {kind}");
        let values = strings(list, &name)?;
        match kind.as_str() {
            "AWS" => {
                for v in values {
                    principals.push(aws_principal(v).map_err(|p| format!("{name} {v:?} {p}"))?);
                }
            }
            "Service" | "Federated" | "CanonicalUser" => {
                if values.iter().any(|v| v.is_empty()) {
                    return Err(format!("{name} must not be an empty string"));
                }
            }
            _ => {
                return Err(format!(
                    "unknown principal type {kind:?}; the types are AWS, Service, Federated and \
                     CanonicalUser"
                ));
            }
        }
    }
    Ok(principals)
}

/// One `AWS` principal: `*`, a 12-digit account, or an IAM or STS ARN (an
/// account's `root` ARN meaning the account).
fn aws_principal(value: &str) -> Result<Principal, String> {
    if value == "*" {
        return Ok(Principal::Everyone);
    }
    if is_account_id(value) {
        return Ok(Principal::Account(value.to_string()));
    }
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let is_arn = matches!(
        parts.as_slice(),
        ["arn", partition, "iam" | "sts", "", account, resource]
            if !partition.is_empty() && is_account_id(account) && !resource.is_empty()
    );
    if !is_arn {
        return Err(
            "must be \"*\", a 12-digit account ID or an IAM ARN such as \
                    arn:aws:iam::111122223333:user/alice"
                .into(),
        );
    }
    if value.contains(['*', '?']) {
        return Err(
            "has a wildcard; principal ARNs must be exact (use \"*\" with a condition \
                    instead)"
                .into(),
        );
    }
    Ok(match parts.as_slice() {
        [_, _, "iam", _, account, "root"] => Principal::Account(account.to_string()),
        _ => Principal::Arn(value.to_string()),
    })
}

/// Twelve ASCII digits.
fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses JSON refusing a key given twice in one object: serde_json would keep
/// the last, letting a document say one thing to a reader and another to us.
fn parse_json(doc: &str) -> Result<Value, PolicyError> {
    let mut deserializer = serde_json::Deserializer::from_str(doc);
    let Strict(value) = Strict::deserialize(&mut deserializer)
        .and_then(|v| deserializer.end().map(|()| v))
        .map_err(|e| PolicyError::Json(e.to_string()))?;
    Ok(value)
}

/// A JSON value deserialized without duplicate object keys.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "the key {key:?} appears twice in one object"
                )));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::super::ConditionContext;
    use super::*;

    const ACCOUNT: &str = "111122223333";
    const OTHER: &str = "444455556666";
    const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
    const BOB: &str = "arn:aws:iam::111122223333:user/bob";
    const ROOT: &str = "arn:aws:iam::111122223333:root";
    const MALLORY: &str = "arn:aws:iam::444455556666:user/mallory";
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    const DEFAULT_POLICY: &str = r#"{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#;

    fn key_policy(doc: &str) -> Policy {
        Policy::parse(doc, PolicyKind::Key).unwrap()
    }

    fn key_error(doc: &str) -> String {
        Policy::parse(doc, PolicyKind::Key).unwrap_err().to_string()
    }

    fn identity_error(doc: &str) -> String {
        Policy::parse(doc, PolicyKind::Identity)
            .unwrap_err()
            .to_string()
    }

    /// A key policy with the given statements (JSON text of the array's items).
    fn statements(items: &str) -> Policy {
        key_policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{items}]}}"#
        ))
    }

    fn decide(
        policy: &Policy,
        principal: &str,
        action: &str,
        context: &ConditionContext,
    ) -> Decision {
        let account = principal.split(':').nth(4).unwrap();
        policy.evaluate(&Request {
            principal_arn: principal,
            principal_account: account,
            action,
            resource: KEY,
            context,
        })
    }

    fn no_context() -> ConditionContext {
        ConditionContext::new()
    }

    fn one(key: &str, values: &[&str]) -> ConditionContext {
        let mut ctx = ConditionContext::new();
        ctx.set(key, values.iter().copied());
        ctx
    }

    #[test]
    fn default_key_policy_delegates_to_the_account() {
        let policy = key_policy(DEFAULT_POLICY);
        let ctx = no_context();
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &ctx),
            Decision::AllowAccount
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:PutKeyPolicy", &ctx),
            Decision::AllowAccount
        );
        assert_eq!(
            decide(&policy, MALLORY, "kms:Encrypt", &ctx),
            Decision::NotApplicable
        );
        // The account root itself is named directly.
        assert_eq!(decide(&policy, ROOT, "kms:Decrypt", &ctx), Decision::Allow);
    }

    #[test]
    fn default_policy_as_the_service_writes_it() {
        let doc = r#"{
  "Version": "2012-10-17",
  "Id": "key-default-1",
  "Statement": [
    {
      "Sid": "Enable IAM User Permissions",
      "Effect": "Allow",
      "Principal": {
        "AWS": "arn:aws:iam::111122223333:root"
      },
      "Action": "kms:*",
      "Resource": "*"
    }
  ]
}"#;
        let policy = key_policy(doc);
        assert_eq!(
            decide(&policy, BOB, "kms:GenerateDataKey", &no_context()),
            Decision::AllowAccount
        );
    }

    #[test]
    fn bare_account_id_is_the_account() {
        let policy = statements(
            r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Encrypt","Resource":"*"}"#,
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &no_context()),
            Decision::AllowAccount
        );
        assert_eq!(
            decide(&policy, ROOT, "kms:Encrypt", &no_context()),
            Decision::Allow
        );
        assert_eq!(
            decide(&policy, MALLORY, "kms:Encrypt", &no_context()),
            Decision::NotApplicable
        );
    }

    #[test]
    fn user_allow_with_encryption_context_condition() {
        let policy = statements(
            r#"{"Sid":"AliceFinance","Effect":"Allow",
                "Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},
                "Action":"kms:Encrypt","Resource":"*",
                "Condition":{"StringEquals":{"kms:EncryptionContext:dept":"finance"}}}"#,
        );
        let right = one("kms:EncryptionContext:dept", &["finance"]);
        let wrong = one("kms:EncryptionContext:dept", &["sales"]);
        let case = one("KMS:ENCRYPTIONCONTEXT:DEPT", &["finance"]);
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &right),
            Decision::Allow
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &case),
            Decision::Allow
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &wrong),
            Decision::NotApplicable
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &no_context()),
            Decision::NotApplicable
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:Decrypt", &right),
            Decision::NotApplicable
        );
        assert_eq!(
            decide(&policy, BOB, "kms:Encrypt", &right),
            Decision::NotApplicable
        );
    }

    #[test]
    fn principal_arns_are_exact_and_case_sensitive() {
        let policy = statements(
            r#"{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/Alice"]},"Action":"kms:*","Resource":"*"}"#,
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &no_context()),
            Decision::NotApplicable
        );
    }

    #[test]
    fn explicit_deny_beats_account_allow() {
        let policy = key_policy(
            r#"{"Version":"2012-10-17","Statement":[
                {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
                {"Sid":"NoDecryptForAlice","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}
            ]}"#,
        );
        let ctx = no_context();
        assert_eq!(decide(&policy, ALICE, "kms:Decrypt", &ctx), Decision::Deny);
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &ctx),
            Decision::AllowAccount
        );
        assert_eq!(
            decide(&policy, BOB, "kms:Decrypt", &ctx),
            Decision::AllowAccount
        );
    }

    #[test]
    fn deny_beats_direct_allow_whatever_the_order() {
        let deny = r#"{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}"#;
        let allow = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"}"#;
        for items in [format!("{deny},{allow}"), format!("{allow},{deny}")] {
            let policy = statements(&items);
            assert_eq!(
                decide(&policy, ALICE, "kms:Decrypt", &no_context()),
                Decision::Deny
            );
            assert_eq!(
                decide(&policy, ALICE, "kms:Encrypt", &no_context()),
                Decision::Allow
            );
        }
    }

    #[test]
    fn deny_of_an_account_denies_all_its_principals() {
        let policy = statements(
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
               {"Effect":"Deny","Principal":{"AWS":"444455556666"},"Action":"kms:*","Resource":"*"}"#,
        );
        assert_eq!(
            decide(&policy, MALLORY, "kms:Encrypt", &no_context()),
            Decision::Deny
        );
        assert_eq!(
            decide(
                &policy,
                "arn:aws:iam::444455556666:root",
                "kms:Encrypt",
                &no_context()
            ),
            Decision::Deny
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &no_context()),
            Decision::Allow
        );
    }

    #[test]
    fn direct_allow_beats_account_allow() {
        let policy = statements(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
               {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Encrypt","Resource":"*"},
               {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:Encrypt","Resource":"*"}"#,
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &no_context()),
            Decision::Allow
        );
        assert_eq!(
            decide(&policy, BOB, "kms:Encrypt", &no_context()),
            Decision::AllowAccount
        );
    }

    #[test]
    fn everyone_principal_forms() {
        for principal in [
            r#""*""#,
            r#"{"AWS":"*"}"#,
            r#"{"AWS":["arn:aws:iam::444455556666:root","*"]}"#,
        ] {
            let policy = statements(&format!(
                r#"{{"Effect":"Allow","Principal":{principal},"Action":"kms:Encrypt","Resource":"*"}}"#
            ));
            assert_eq!(
                decide(&policy, MALLORY, "kms:Encrypt", &no_context()),
                Decision::Allow
            );
        }
    }

    #[test]
    fn service_and_federated_principals_parse_but_never_match() {
        let policy = statements(
            r#"{"Effect":"Allow","Principal":{"Service":["logs.amazonaws.com"],"Federated":"cognito-identity.amazonaws.com","CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},"Action":"kms:*","Resource":"*"}"#,
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &no_context()),
            Decision::NotApplicable
        );
        assert_eq!(
            decide(&policy, ROOT, "kms:Encrypt", &no_context()),
            Decision::NotApplicable
        );
    }

    #[test]
    fn assumed_role_principal() {
        let session = "arn:aws:sts::111122223333:assumed-role/Admin/alice";
        let policy = statements(&format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"{session}"}},"Action":"kms:*","Resource":"*"}}"#
        ));
        assert_eq!(
            decide(&policy, session, "kms:Encrypt", &no_context()),
            Decision::Allow
        );
    }

    #[test]
    fn action_matching_ignores_case_and_takes_wildcards() {
        let policy = statements(
            r#"{"Effect":"Allow","Principal":"*","Action":["KMS:encrypt","kms:GenerateDataKey*","kms:?eEncrypt*"],"Resource":"*"}"#,
        );
        let ctx = no_context();
        assert_eq!(decide(&policy, ALICE, "kms:Encrypt", &ctx), Decision::Allow);
        assert_eq!(
            decide(&policy, ALICE, "kms:GenerateDataKeyPair", &ctx),
            Decision::Allow
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:ReEncryptFrom", &ctx),
            Decision::Allow
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:Decrypt", &ctx),
            Decision::NotApplicable
        );
        let all = statements(r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}"#);
        assert_eq!(
            decide(&all, ALICE, "kms:ScheduleKeyDeletion", &ctx),
            Decision::Allow
        );
    }

    #[test]
    fn other_services_actions_are_valid_but_never_match() {
        let policy = statements(
            r#"{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","ec2:*"],"Resource":"*"}"#,
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &no_context()),
            Decision::NotApplicable
        );
    }

    #[test]
    fn not_action_inverts() {
        let policy = statements(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"NotAction":["kms:ScheduleKeyDeletion","kms:Put*"],"Resource":"*"}"#,
        );
        let ctx = no_context();
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &ctx),
            Decision::AllowAccount
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:ScheduleKeyDeletion", &ctx),
            Decision::NotApplicable
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:PutKeyPolicy", &ctx),
            Decision::NotApplicable
        );
    }

    #[test]
    fn resources_match_case_sensitively_with_wildcards() {
        let policy = statements(
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:*:111122223333:key/1234abcd-*"}"#,
        );
        let ctx = no_context();
        assert_eq!(decide(&policy, ALICE, "kms:Encrypt", &ctx), Decision::Allow);
        let upper = statements(
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:*:111122223333:key/1234ABCD-*"}"#,
        );
        assert_eq!(
            decide(&upper, ALICE, "kms:Encrypt", &ctx),
            Decision::NotApplicable
        );
        let not = statements(
            r#"{"Effect":"Deny","Principal":"*","Action":"kms:*","NotResource":"arn:aws:kms:*:*:key/1234abcd-*"},
               {"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}"#,
        );
        assert_eq!(decide(&not, ALICE, "kms:Encrypt", &ctx), Decision::Allow);
        let not_other = statements(
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","NotResource":"arn:aws:kms:*:*:key/other"}"#,
        );
        assert_eq!(
            decide(&not_other, ALICE, "kms:Encrypt", &ctx),
            Decision::Allow
        );
    }

    #[test]
    fn for_all_values_on_encryption_context_keys() {
        let policy = statements(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Encrypt","Resource":"*",
                "Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["dept","project"]},
                             "Null":{"kms:EncryptionContextKeys":"false"}}}"#,
        );
        let subset = one("kms:EncryptionContextKeys", &["project"]);
        let extra = one("kms:EncryptionContextKeys", &["project", "owner"]);
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &subset),
            Decision::Allow
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &extra),
            Decision::NotApplicable
        );
        // The Null check is what refuses a request with no context at all.
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &no_context()),
            Decision::NotApplicable
        );
    }

    #[test]
    fn string_like_condition() {
        let policy = statements(
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*",
                "Condition":{"StringLike":{"kms:EncryptionContext:project":["alpha-*","beta-??"]}}}"#,
        );
        let ok = |v: &str| {
            decide(
                &policy,
                ALICE,
                "kms:Decrypt",
                &one("kms:EncryptionContext:project", &[v]),
            )
        };
        assert_eq!(ok("alpha-1"), Decision::Allow);
        assert_eq!(ok("beta-42"), Decision::Allow);
        assert_eq!(ok("beta-4"), Decision::NotApplicable);
        assert_eq!(ok("Alpha-1"), Decision::NotApplicable);
    }

    #[test]
    fn bool_condition_on_grant_for_aws_resource() {
        let policy = statements(
            r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":["kms:CreateGrant","kms:ListGrants","kms:RevokeGrant"],"Resource":"*",
                "Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}"#,
        );
        let yes = one("kms:GrantIsForAWSResource", &["true"]);
        let no = one("kms:GrantIsForAWSResource", &["false"]);
        assert_eq!(
            decide(&policy, ALICE, "kms:CreateGrant", &yes),
            Decision::AllowAccount
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:CreateGrant", &no),
            Decision::NotApplicable
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:CreateGrant", &no_context()),
            Decision::NotApplicable
        );
    }

    #[test]
    fn null_condition_requires_encryption_context() {
        let policy = statements(
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
               {"Sid":"RequireContext","Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*",
                "Condition":{"Null":{"kms:EncryptionContextKeys":"true"}}}"#,
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &no_context()),
            Decision::Deny
        );
        let ctx = one("kms:EncryptionContextKeys", &["dept"]);
        assert_eq!(decide(&policy, ALICE, "kms:Encrypt", &ctx), Decision::Allow);
    }

    #[test]
    fn if_exists_condition() {
        let policy = statements(
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*",
                "Condition":{"StringEqualsIfExists":{"kms:ViaService":"ec2.us-east-1.amazonaws.com"}}}"#,
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &no_context()),
            Decision::Allow
        );
        let ec2 = one("kms:ViaService", &["ec2.us-east-1.amazonaws.com"]);
        let s3 = one("kms:ViaService", &["s3.us-east-1.amazonaws.com"]);
        assert_eq!(decide(&policy, ALICE, "kms:Encrypt", &ec2), Decision::Allow);
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &s3),
            Decision::NotApplicable
        );
    }

    #[test]
    fn negated_condition_in_a_deny_applies_when_the_key_is_missing() {
        let policy = statements(
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
               {"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",
                "Condition":{"StringNotEquals":{"kms:CallerAccount":"111122223333"}}}"#,
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &no_context()),
            Decision::Deny
        );
        let own = one("kms:CallerAccount", &[ACCOUNT]);
        let other = one("kms:CallerAccount", &[OTHER]);
        assert_eq!(decide(&policy, ALICE, "kms:Encrypt", &own), Decision::Allow);
        assert_eq!(
            decide(&policy, MALLORY, "kms:Encrypt", &other),
            Decision::Deny
        );
    }

    #[test]
    fn identity_policy_allows_its_holder() {
        let policy = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"arn:aws:kms:us-east-1:111122223333:key/*"}}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        assert_eq!(
            decide(&policy, ALICE, "kms:Encrypt", &no_context()),
            Decision::Allow
        );
        assert_eq!(
            decide(&policy, MALLORY, "kms:Decrypt", &no_context()),
            Decision::Allow
        );
        assert_eq!(
            decide(&policy, ALICE, "kms:Sign", &no_context()),
            Decision::NotApplicable
        );
        let deny = Policy::parse(
            r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        assert_eq!(
            decide(&deny, ALICE, "kms:Decrypt", &no_context()),
            Decision::Deny
        );
    }

    #[test]
    fn version_may_be_absent_or_2008() {
        for version in ["", r#""Version":"2008-10-17","#] {
            let doc = format!(
                r#"{{{version}"Statement":{{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:*:*:key/${{x}}"}}}}"#
            );
            // In 2008-10-17 `${x}` is literal text.
            let policy = key_policy(&doc);
            assert_eq!(
                decide(&policy, ALICE, "kms:Encrypt", &no_context()),
                Decision::NotApplicable
            );
        }
    }

    #[test]
    fn lockout_check() {
        let default = key_policy(DEFAULT_POLICY);
        assert!(default.allows_principal_action(ALICE, ACCOUNT, "kms:PutKeyPolicy", KEY));
        assert!(default.allows_principal_action(ROOT, ACCOUNT, "kms:PutKeyPolicy", KEY));
        assert!(!default.allows_principal_action(MALLORY, OTHER, "kms:PutKeyPolicy", KEY));

        let user_only = statements(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:Encrypt","Resource":"*"}"#,
        );
        assert!(!user_only.allows_principal_action(BOB, ACCOUNT, "kms:PutKeyPolicy", KEY));

        let conditional = statements(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:Put*","Resource":"*",
                "Condition":{"Bool":{"aws:SecureTransport":"true"}}}"#,
        );
        assert!(conditional.allows_principal_action(BOB, ACCOUNT, "kms:PutKeyPolicy", KEY));

        let denied = statements(
            r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},
               {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:PutKeyPolicy","Resource":"*"}"#,
        );
        assert!(!denied.allows_principal_action(BOB, ACCOUNT, "kms:PutKeyPolicy", KEY));
        assert!(denied.allows_principal_action(ALICE, ACCOUNT, "kms:PutKeyPolicy", KEY));

        let conditional_deny = statements(
            r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},
               {"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",
                "Condition":{"StringNotEquals":{"kms:CallerAccount":"111122223333"}}}"#,
        );
        assert!(conditional_deny.allows_principal_action(BOB, ACCOUNT, "kms:PutKeyPolicy", KEY));

        let other_key = statements(
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:key/other"}"#,
        );
        assert!(!other_key.allows_principal_action(BOB, ACCOUNT, "kms:PutKeyPolicy", KEY));
    }

    #[test]
    fn not_json() {
        let e = key_error("{not json");
        assert!(e.starts_with("The policy is not valid JSON"), "{e}");
        assert!(key_error(r#"{"Statement":[]} trailing"#).contains("not valid JSON"));
        assert!(key_error("").contains("not valid JSON"));
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let e = key_error(
            r#"{"Statement":{"Effect":"Deny","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
        );
        assert!(e.contains("\"Effect\" appears twice"), "{e}");
    }

    #[test]
    fn document_level_errors() {
        assert!(key_error("[]").contains("must be a JSON object"));
        assert!(key_error(r#"{"Version":"2012-10-17"}"#).contains("must contain a Statement"));
        assert!(key_error(r#"{"Statement":[]}"#).contains("must not be an empty array"));
        assert!(key_error(r#"{"Statement":"x"}"#).contains("object or an array"));
        assert!(key_error(r#"{"Version":"2013-01-01","Statement":{}}"#).contains("Version"));
        assert!(key_error(r#"{"Version":20121017,"Statement":{}}"#).contains("not 20121017"));
        assert!(key_error(r#"{"Id":7,"Statement":{}}"#).contains("Id must be a string"));
        let e = key_error(r#"{"statement":[]}"#);
        assert!(e.contains("unknown field \"statement\""), "{e}");
    }

    /// One statement whose fields are `fields` added to a valid Allow.
    fn statement_error(fields: &str) -> String {
        key_error(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{{fields}}}]}}"#
        ))
    }

    #[test]
    fn effect_errors_name_the_statement() {
        let e = key_error(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
                             {"Sid":"Odd","Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}]}"#,
        );
        assert_eq!(
            e,
            r#"Statement #1 (Sid "Odd"): Effect must be "Allow" or "Deny", not "Maybe""#
        );
        let e = statement_error(r#""Principal":"*","Action":"kms:*","Resource":"*""#);
        assert_eq!(
            e,
            r#"Statement #0: Effect is missing; it must be "Allow" or "Deny""#
        );
        assert!(
            statement_error(r#""Effect":"allow","Principal":"*","Action":"kms:*","Resource":"*""#)
                .contains("not \"allow\"")
        );
    }

    #[test]
    fn principal_errors() {
        let e = statement_error(r#""Effect":"Allow","Action":"kms:*","Resource":"*""#);
        assert!(e.contains("must have a Principal"), "{e}");
        let e = identity_error(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
        );
        assert!(
            e.contains("identity policy must not name a Principal"),
            "{e}"
        );
        let e = statement_error(
            r#""Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*""#,
        );
        assert!(e.contains("NotPrincipal is not supported"), "{e}");
        let bad = |p: &str| {
            statement_error(&format!(
                r#""Effect":"Allow","Principal":{p},"Action":"kms:*","Resource":"*""#
            ))
        };
        assert!(bad(r#""alice""#).contains("Principal must be \"*\" or an object"));
        assert!(bad("{}").contains("Principal must be"));
        assert!(bad(r#"{"AWS":[]}"#).contains("not an empty array"));
        assert!(bad(r#"{"AWS":"alice"}"#).contains("12-digit account ID"));
        assert!(bad(r#"{"AWS":"1111"}"#).contains("12-digit account ID"));
        assert!(bad(r#"{"AWS":"arn:aws:s3:::bucket"}"#).contains("IAM ARN"));
        assert!(bad(r#"{"AWS":"arn:aws:iam::111122223333:user/*"}"#).contains("wildcard"));
        assert!(bad(r#"{"AWS":5}"#).contains("not 5"));
        assert!(bad(r#"{"IAM":"111122223333"}"#).contains("unknown principal type \"IAM\""));
        assert!(bad(r#"{"Service":""}"#).contains("empty string"));
    }

    #[test]
    fn action_and_resource_errors() {
        let bad =
            |rest: &str| statement_error(&format!(r#""Effect":"Allow","Principal":"*",{rest}"#));
        assert!(bad(r#""Resource":"*""#).contains("must have Action or NotAction"));
        assert!(
            bad(r#""Action":"kms:*","NotAction":"kms:Encrypt","Resource":"*""#)
                .contains("both Action and NotAction")
        );
        assert!(bad(r#""Action":[],"Resource":"*""#).contains("not an empty array"));
        assert!(bad(r#""Action":["kms:Encrypt",3],"Resource":"*""#).contains("other values"));
        let e = bad(r#""Action":"Encrypt","Resource":"*""#);
        assert!(
            e.contains(r#"Action "Encrypt" must be "*" or "service:Action""#),
            "{e}"
        );
        assert!(bad(r#""Action":"kms:","Resource":"*""#).contains("Action \"kms:\""));
        assert!(bad(r#""Action":"kms:Encrypt Data","Resource":"*""#).contains("service:Action"));
        assert!(bad(r#""Action":"kms:*""#).contains("must have Resource or NotResource"));
        assert!(
            bad(r#""Action":"kms:*","Resource":"key/1""#).contains("Resource \"key/1\" must be")
        );
        assert!(bad(r#""Action":"kms:*","NotResource":"arn:aws:kms""#).contains("NotResource"));
        let e = bad(r#""Action":"kms:*","Resource":"arn:aws:kms:*:*:key/${aws:username}""#);
        assert!(e.contains("policy variable"), "{e}");
    }

    #[test]
    fn statement_shape_errors() {
        assert!(
            key_error(r#"{"Statement":["x"]}"#)
                .contains("Statement #0: a statement must be a JSON object")
        );
        let e = statement_error(
            r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Resources":"*""#,
        );
        assert!(e.contains("unknown field \"Resources\""), "{e}");
        assert!(
            statement_error(
                r#""Sid":1,"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*""#
            )
            .contains("Sid must be a string")
        );
    }

    #[test]
    fn condition_errors_name_the_statement() {
        let e = key_error(
            r#"{"Statement":{"Sid":"Cond","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*",
                "Condition":{"StringEqualz":{"kms:CallerAccount":"111122223333"}}}}"#,
        );
        assert_eq!(
            e,
            r#"Statement #0 (Sid "Cond"): unknown condition operator "StringEqualz""#
        );
        let e = statement_error(
            r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-123"}}"#,
        );
        assert!(e.contains("aws:PrincipalOrgID is not supported"), "{e}");
    }

    #[test]
    fn error_variants() {
        assert!(matches!(
            Policy::parse("nope", PolicyKind::Key),
            Err(PolicyError::Json(_))
        ));
        assert!(matches!(
            Policy::parse("{}", PolicyKind::Key),
            Err(PolicyError::Document(_))
        ));
        assert!(matches!(
            Policy::parse(r#"{"Statement":{"Effect":"Maybe"}}"#, PolicyKind::Key),
            Err(PolicyError::Statement { statement, .. }) if statement == "#0"
        ));
    }

    #[test]
    fn mentions_finds_keys_and_families_ignoring_case() {
        let policy = key_policy(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*",
              "Condition":{"StringEquals":{"aws:ResourceTag/Team":"blue","KMS:RequestAlias":"alias/x"}}}]}"#,
        );
        assert!(policy.mentions("kms:RequestAlias"));
        assert!(policy.mentions("aws:ResourceTag/"));
        assert!(!policy.mentions("kms:ResourceAliases"));
        assert!(!policy.mentions("aws:RequestTag/"));
    }

    #[test]
    fn has_conditions_tells_policies_that_read_condition_keys() {
        let plain = key_policy(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}"#,
        );
        assert!(!plain.has_conditions());
        let conditional = key_policy(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
              {"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",
               "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
        );
        assert!(conditional.has_conditions());
    }
}
