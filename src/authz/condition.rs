//! The `Condition` element: operators, their set qualifiers and `IfExists`,
//! and the request's condition keys they test.
//!
//! Evaluation follows the AWS IAM documentation:
//! - several operators in one statement, and several keys under one operator,
//!   must all hold (AND); several values for one key match if any does (OR),
//!   or, for a negated operator (`StringNotEquals`, `ArnNotLike`, ...), if none
//!   does (NOR);
//! - a key absent from the request makes a positive operator false and a
//!   negated one true ("if the policy condition requires that the key is not
//!   matched ... and the key is not present, the condition is true");
//! - `...IfExists` makes any operator true when the key is absent;
//! - `Null` tests presence: `"true"` holds when the key is absent, `"false"`
//!   when it is present;
//! - `ForAnyValue:` holds when at least one of the request's values passes
//!   (false when the key is absent); `ForAllValues:` holds when every one
//!   does, and also when the key is absent, as AWS documents (so
//!   `ForAllValues:` alone never requires a key to be present: pair it with a
//!   `Null` check when it must be);
//! - without a qualifier, a multi-valued key passes a positive operator when
//!   any of its values does, and a negated operator is exactly the negation of
//!   its positive form (so it holds when none of the values matches).
//!
//! Operator names and qualifiers are recognised whatever their case. Values
//! that an operator can never use (`Bool` or `Null` values other than
//! true/false, non-numbers for `Numeric...`) are refused at parse time.

use super::{glob_match, typed_values};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::HashMap;

/// The condition keys of a request and their values. Key names compare
/// case-insensitively; a multi-valued key (e.g. `kms:EncryptionContextKeys`)
/// has several values, and a key given no values is absent.
#[derive(Clone, Debug, Default)]
pub struct ConditionContext {
    /// Values by lower-cased key name; never an empty list.
    keys: HashMap<String, Vec<String>>,
}

impl ConditionContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `values`, replacing what it had; no values removes it.
    pub fn set<I, V>(&mut self, key: &str, values: I) -> &mut Self
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        let name = key.to_lowercase();
        if values.is_empty() {
            self.keys.remove(&name);
        } else {
            self.keys.insert(name, values);
        }
        self
    }

    /// Adds one value to `key`, keeping the values it had.
    pub fn add(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.keys
            .entry(key.to_lowercase())
            .or_default()
            .push(value.into());
        self
    }

    /// The values of `key`, or `None` when the request does not have it.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.keys.get(&key.to_lowercase()).map(Vec::as_slice)
    }
}

/// One condition key tested by one operator: a statement applies only if all
/// of its conditions hold.
#[derive(Clone, Debug)]
pub(super) struct Condition {
    check: Check,
    /// Condition key name, lower-cased.
    key: String,
    /// The policy's values for the key, as strings.
    values: Vec<String>,
}

/// What a condition does with the key's values.
#[derive(Clone, Copy, Debug)]
enum Check {
    /// `Null`: whether the key is absent (value `"true"`) or present
    /// (`"false"`).
    Null,
    /// Every other operator.
    Compare {
        test: Test,
        /// A `...Not...` operator: holds where `test` does not.
        negated: bool,
        qualifier: Qualifier,
        /// `...IfExists`: holds when the key is absent.
        if_exists: bool,
    },
}

/// How one request value is compared with one policy value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Test {
    /// Exact, case-sensitive.
    StringEquals,
    /// Exact, ignoring case.
    StringEqualsIgnoreCase,
    /// Case-sensitive with `*` and `?` wildcards.
    StringLike,
    /// ARN: each of the six `:`-separated parts matched with wildcards,
    /// case-sensitively (`ArnEquals` and `ArnLike` are the same in AWS).
    Arn,
    /// Numbers: holds when the request value compares `wanted` to the policy
    /// value, or equal to it when `or_equal`. A request value that is not a
    /// number matches nothing (so `NumericNotEquals` holds for it).
    Numeric { wanted: Ordering, or_equal: bool },
    /// `true` or `false`, ignoring case.
    Bool,
    /// Dates (ISO 8601 or epoch seconds), compared like `Numeric`.
    Date { wanted: Ordering, or_equal: bool },
    /// The request's address lies in the policy's CIDR block.
    Ip,
}

/// How a multi-valued key's values combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Qualifier {
    /// No set operator: any value matching is enough.
    None,
    /// `ForAnyValue:`.
    AnyValue,
    /// `ForAllValues:`.
    AllValues,
}

/// Operators by name: the test and whether it is negated.
const OPERATORS: &[(&str, Test, bool)] = &[
    ("StringEquals", Test::StringEquals, false),
    ("StringNotEquals", Test::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        Test::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Test::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", Test::StringLike, false),
    ("StringNotLike", Test::StringLike, true),
    ("ArnEquals", Test::Arn, false),
    ("ArnLike", Test::Arn, false),
    ("ArnNotEquals", Test::Arn, true),
    ("ArnNotLike", Test::Arn, true),
    ("Bool", Test::Bool, false),
    ("IpAddress", Test::Ip, false),
    ("NotIpAddress", Test::Ip, true),
    (
        "DateEquals",
        Test::Date {
            wanted: Ordering::Equal,
            or_equal: true,
        },
        false,
    ),
    (
        "DateNotEquals",
        Test::Date {
            wanted: Ordering::Equal,
            or_equal: true,
        },
        true,
    ),
    (
        "DateLessThan",
        Test::Date {
            wanted: Ordering::Less,
            or_equal: false,
        },
        false,
    ),
    (
        "DateLessThanEquals",
        Test::Date {
            wanted: Ordering::Less,
            or_equal: true,
        },
        false,
    ),
    (
        "DateGreaterThan",
        Test::Date {
            wanted: Ordering::Greater,
            or_equal: false,
        },
        false,
    ),
    (
        "DateGreaterThanEquals",
        Test::Date {
            wanted: Ordering::Greater,
            or_equal: true,
        },
        false,
    ),
    (
        "NumericEquals",
        Test::Numeric {
            wanted: Ordering::Equal,
            or_equal: true,
        },
        false,
    ),
    (
        "NumericNotEquals",
        Test::Numeric {
            wanted: Ordering::Equal,
            or_equal: true,
        },
        true,
    ),
    (
        "NumericLessThan",
        Test::Numeric {
            wanted: Ordering::Less,
            or_equal: false,
        },
        false,
    ),
    (
        "NumericLessThanEquals",
        Test::Numeric {
            wanted: Ordering::Less,
            or_equal: true,
        },
        false,
    ),
    (
        "NumericGreaterThan",
        Test::Numeric {
            wanted: Ordering::Greater,
            or_equal: false,
        },
        false,
    ),
    (
        "NumericGreaterThanEquals",
        Test::Numeric {
            wanted: Ordering::Greater,
            or_equal: true,
        },
        false,
    ),
];

/// AWS operators this service does not evaluate: refused rather than
/// silently never matching.
const UNSUPPORTED: &[&str] = &["BinaryEquals"];

impl Condition {
    /// Parses one operator's block, `{ key: value or [values], ... }`, into one
    /// condition per key. `refuse_variables` refuses `${...}` policy variables
    /// (version 2012-10-17) where AWS would substitute them. The error says
    /// what is wrong, without naming the statement.
    pub(super) fn parse_block(
        operator: &str,
        block: &Value,
        refuse_variables: bool,
    ) -> Result<Vec<Condition>, String> {
        let check = parse_operator(operator)?;
        let Value::Object(keys) = block else {
            return Err(format!(
                "condition operator {operator} must map condition keys to values, not {}",
                show(block)
            ));
        };
        keys.iter()
            .map(|(key, value)| {
                if key.is_empty() {
                    return Err(format!(
                        "condition operator {operator} has an empty key name"
                    ));
                }
                super::keys::check(key)?;
                let values = condition_values(value).ok_or_else(|| {
                    format!(
                        "{operator} value for {key} must be a string, number, boolean or a \
                             non-empty array of them, not {}",
                        show(value)
                    )
                })?;
                for v in &values {
                    check_value(check, operator, key, v, refuse_variables)?;
                }
                Ok(Condition {
                    check,
                    key: key.to_lowercase(),
                    values,
                })
            })
            .collect()
    }

    /// The condition key, lower-cased.
    pub(super) fn key(&self) -> &str {
        &self.key
    }

    /// Whether the condition holds for the request's condition keys.
    pub(super) fn holds(&self, context: &ConditionContext) -> bool {
        let present = context.get(&self.key);
        let (test, negated, qualifier, if_exists) = match self.check {
            Check::Null => {
                let wanted = if present.is_some() { "false" } else { "true" };
                return self.values.iter().any(|v| v.eq_ignore_ascii_case(wanted));
            }
            Check::Compare {
                test,
                negated,
                qualifier,
                if_exists,
            } => (test, negated, qualifier, if_exists),
        };
        let Some(request) = present else {
            return if_exists
                || match qualifier {
                    Qualifier::None => negated,
                    Qualifier::AnyValue => false,
                    Qualifier::AllValues => true,
                };
        };
        // Whether one request value matches any of the policy's values.
        let hit = |r: &String| self.values.iter().any(|p| test.matches(r, p));
        match qualifier {
            Qualifier::None => request.iter().any(hit) != negated,
            Qualifier::AnyValue => request.iter().any(|r| hit(r) != negated),
            Qualifier::AllValues => request.iter().all(|r| hit(r) != negated),
        }
    }
}

impl Test {
    /// Whether request value `r` matches policy value `p`.
    fn matches(self, r: &str, p: &str) -> bool {
        match self {
            Test::StringEquals => r == p,
            Test::StringEqualsIgnoreCase => r.to_lowercase() == p.to_lowercase(),
            Test::StringLike => glob_match(p, r),
            Test::Arn => arn_match(p, r),
            Test::Numeric { wanted, or_equal } => compare_numbers(r, p)
                .is_some_and(|o| o == wanted || (or_equal && o == Ordering::Equal)),
            Test::Bool => r.eq_ignore_ascii_case(p),
            Test::Date { wanted, or_equal } => typed_values::compare_dates(r, p)
                .is_some_and(|o| o == wanted || (or_equal && o == Ordering::Equal)),
            Test::Ip => typed_values::ip_in(r, p),
        }
    }
}

/// Splits `[ForAnyValue:|ForAllValues:]Name[IfExists]` and looks `Name` up.
fn parse_operator(operator: &str) -> Result<Check, String> {
    let (qualifier, rest) = match operator.split_once(':') {
        None => (Qualifier::None, operator),
        Some((q, rest)) if q.eq_ignore_ascii_case("ForAnyValue") => (Qualifier::AnyValue, rest),
        Some((q, rest)) if q.eq_ignore_ascii_case("ForAllValues") => (Qualifier::AllValues, rest),
        Some((q, _)) => {
            return Err(format!(
                "unknown condition operator {operator:?}: {q:?} is not a set operator \
                 (ForAnyValue or ForAllValues)"
            ));
        }
    };
    const IF_EXISTS: &str = "IfExists";
    let (name, if_exists) = match rest
        .len()
        .checked_sub(IF_EXISTS.len())
        .and_then(|at| Some((rest.get(..at)?, rest.get(at..)?)))
    {
        Some((name, suffix)) if suffix.eq_ignore_ascii_case(IF_EXISTS) => (name, true),
        _ => (rest, false),
    };
    if name.eq_ignore_ascii_case("Null") {
        if qualifier != Qualifier::None || if_exists {
            return Err(format!(
                "condition operator {operator:?} is not valid: Null takes neither a set \
                 operator nor IfExists"
            ));
        }
        return Ok(Check::Null);
    }
    if let Some(&(_, test, negated)) = OPERATORS
        .iter()
        .find(|(known, _, _)| known.eq_ignore_ascii_case(name))
    {
        return Ok(Check::Compare {
            test,
            negated,
            qualifier,
            if_exists,
        });
    }
    if UNSUPPORTED
        .iter()
        .any(|known| known.eq_ignore_ascii_case(name))
    {
        return Err(format!(
            "condition operator {operator:?} is not supported by this service"
        ));
    }
    Err(format!("unknown condition operator {operator:?}"))
}

/// A condition's values as strings: one scalar or a non-empty array of them.
fn condition_values(value: &Value) -> Option<Vec<String>> {
    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(scalar).collect(),
        Value::Array(_) => None,
        other => scalar(other).map(|s| vec![s]),
    }
}

/// Refuses values an operator can never use.
fn check_value(
    check: Check,
    operator: &str,
    key: &str,
    value: &str,
    refuse_variables: bool,
) -> Result<(), String> {
    let ok = match check {
        Check::Null
        | Check::Compare {
            test: Test::Bool, ..
        } => value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"),
        Check::Compare {
            test: Test::Numeric { .. },
            ..
        } => is_number(value),
        Check::Compare {
            test: Test::Date { .. },
            ..
        } => typed_values::date(value).is_some(),
        Check::Compare { test: Test::Ip, .. } => typed_values::cidr(value).is_some(),
        Check::Compare { .. } => {
            if refuse_variables && value.contains("${") {
                return Err(format!(
                    "{operator} value {value:?} for {key} uses a policy variable; policy \
                     variables are not supported"
                ));
            }
            true
        }
    };
    if ok {
        Ok(())
    } else {
        let wanted = match check {
            Check::Compare {
                test: Test::Numeric { .. },
                ..
            } => "a number",
            Check::Compare {
                test: Test::Date { .. },
                ..
            } => "a date (ISO 8601 or seconds since the epoch)",
            Check::Compare { test: Test::Ip, .. } => "an IP address or CIDR block",
            _ => "\"true\" or \"false\"",
        };
        Err(format!(
            "{operator} value {value:?} for {key} must be {wanted}"
        ))
    }
}

/// A decimal number: an optional `-`, digits, and optionally `.` and digits.
fn is_number(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (whole, fraction) = s.split_once('.').unwrap_or((s, "0"));
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction)
}

/// Compares two decimal numbers: exactly when both are integers, else as
/// floating point. `None` when either is not a number.
fn compare_numbers(a: &str, b: &str) -> Option<Ordering> {
    if !is_number(a) || !is_number(b) {
        return None;
    }
    if let (Ok(x), Ok(y)) = (a.parse::<i128>(), b.parse::<i128>()) {
        return Some(x.cmp(&y));
    }
    a.parse::<f64>().ok()?.partial_cmp(&b.parse::<f64>().ok()?)
}

/// ARN matching, part by part: both split into the six `:`-separated parts
/// `arn:partition:service:region:account:resource` (the resource keeps any
/// further colons), each part matched with wildcards, so a wildcard never
/// crosses a `:` before the resource. A pattern without any `:` (such as `*`)
/// matches the whole value.
fn arn_match(pattern: &str, value: &str) -> bool {
    if !pattern.contains(':') {
        return glob_match(pattern, value);
    }
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let v: Vec<&str> = value.splitn(6, ':').collect();
    p.len() == v.len() && p.iter().zip(&v).all(|(p, v)| glob_match(p, v))
}

/// A JSON value for an error message: scalars as written, containers by kind.
pub(super) fn show(value: &Value) -> String {
    match value {
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
        other => other.to_string(),
    }
}

/// Parses a statement's `Condition` element: `{ operator: { key: values } }`.
pub(super) fn parse_conditions(
    element: &Value,
    refuse_variables: bool,
) -> Result<Vec<Condition>, String> {
    let Value::Object(operators) = element else {
        return Err(format!(
            "Condition must be an object mapping operators to keys, not {}",
            show(element)
        ));
    };
    let mut all = Vec::new();
    for (operator, block) in operators {
        all.extend(Condition::parse_block(operator, block, refuse_variables)?);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Parses `{operator: {key: values}}` and evaluates it against `context`.
    fn eval(condition: Value, context: &ConditionContext) -> bool {
        parse_conditions(&condition, true)
            .unwrap()
            .iter()
            .all(|c| c.holds(context))
    }

    fn context(pairs: &[(&str, &[&str])]) -> ConditionContext {
        let mut ctx = ConditionContext::new();
        for (key, values) in pairs {
            ctx.set(key, values.iter().copied());
        }
        ctx
    }

    fn error(condition: Value) -> String {
        parse_conditions(&condition, true).unwrap_err()
    }

    #[test]
    fn context_keys_ignore_case_and_empty_means_absent() {
        let mut ctx = ConditionContext::new();
        ctx.set("kms:CallerAccount", ["111122223333"]);
        assert_eq!(
            ctx.get("KMS:calleraccount"),
            Some(&["111122223333".to_string()][..])
        );
        ctx.set("KMS:CALLERACCOUNT", Vec::<String>::new());
        assert_eq!(ctx.get("kms:CallerAccount"), None);
    }

    #[test]
    fn string_equals_is_exact_and_values_or() {
        let ctx = context(&[("kms:CallerAccount", &["111122223333"])]);
        assert!(eval(
            json!({"StringEquals": {"kms:CallerAccount": "111122223333"}}),
            &ctx
        ));
        assert!(eval(
            json!({"StringEquals": {"kms:calleraccount": ["444455556666", "111122223333"]}}),
            &ctx
        ));
        assert!(!eval(
            json!({"StringEquals": {"kms:CallerAccount": "1111*"}}),
            &ctx
        ));
        assert!(!eval(
            json!({"StringEquals": {"kms:CallerAccount": "444455556666"}}),
            &ctx
        ));
    }

    #[test]
    fn string_case_operators() {
        let ctx = context(&[("kms:EncryptionContext:dept", &["Finance"])]);
        assert!(!eval(
            json!({"StringEquals": {"kms:EncryptionContext:dept": "finance"}}),
            &ctx
        ));
        assert!(eval(
            json!({"StringEqualsIgnoreCase": {"kms:EncryptionContext:dept": "FINANCE"}}),
            &ctx
        ));
        assert!(!eval(
            json!({"StringNotEqualsIgnoreCase": {"kms:EncryptionContext:dept": "finance"}}),
            &ctx
        ));
        assert!(eval(
            json!({"StringNotEqualsIgnoreCase": {"kms:EncryptionContext:dept": "sales"}}),
            &ctx
        ));
    }

    #[test]
    fn negated_values_are_nor() {
        let ctx = context(&[("kms:CallerAccount", &["111122223333"])]);
        assert!(!eval(
            json!({"StringNotEquals": {"kms:CallerAccount": ["444455556666", "111122223333"]}}),
            &ctx
        ));
        assert!(eval(
            json!({"StringNotEquals": {"kms:CallerAccount": ["444455556666", "777788889999"]}}),
            &ctx
        ));
    }

    #[test]
    fn string_like_wildcards() {
        let ctx = context(&[("kms:ViaService", &["ec2.us-east-1.amazonaws.com"])]);
        assert!(eval(
            json!({"StringLike": {"kms:ViaService": "ec2.*.amazonaws.com"}}),
            &ctx
        ));
        assert!(eval(
            json!({"StringLike": {"kms:ViaService": "ec?.us-east-1.*"}}),
            &ctx
        ));
        assert!(!eval(
            json!({"StringLike": {"kms:ViaService": "s3.*"}}),
            &ctx
        ));
        assert!(!eval(
            json!({"StringLike": {"kms:ViaService": "EC2.*"}}),
            &ctx
        ));
        assert!(eval(
            json!({"StringNotLike": {"kms:ViaService": "s3.*"}}),
            &ctx
        ));
        assert!(!eval(
            json!({"StringNotLike": {"kms:ViaService": "ec2.*"}}),
            &ctx
        ));
    }

    #[test]
    fn missing_key_positive_false_negated_true() {
        let ctx = ConditionContext::new();
        assert!(!eval(
            json!({"StringEquals": {"kms:ViaService": "x"}}),
            &ctx
        ));
        assert!(!eval(json!({"StringLike": {"kms:ViaService": "*"}}), &ctx));
        assert!(!eval(
            json!({"Bool": {"kms:GrantIsForAWSResource": "true"}}),
            &ctx
        ));
        assert!(!eval(
            json!({"NumericLessThan": {"kms:RotationPeriodInDays": 5}}),
            &ctx
        ));
        assert!(eval(
            json!({"StringNotEquals": {"kms:ViaService": "x"}}),
            &ctx
        ));
        assert!(eval(
            json!({"ArnNotLike": {"aws:PrincipalArn": "arn:*"}}),
            &ctx
        ));
        assert!(eval(
            json!({"NumericNotEquals": {"kms:RotationPeriodInDays": 5}}),
            &ctx
        ));
    }

    #[test]
    fn if_exists_makes_missing_key_match() {
        let empty = ConditionContext::new();
        let ctx = context(&[("kms:ViaService", &["s3.amazonaws.com"])]);
        let c = json!({"StringEqualsIfExists": {"kms:ViaService": "ec2.amazonaws.com"}});
        assert!(eval(c.clone(), &empty));
        assert!(!eval(c, &ctx));
        let c = json!({"StringNotLikeIfExists": {"kms:ViaService": "s3.*"}});
        assert!(eval(c.clone(), &empty));
        assert!(!eval(c, &ctx));
        assert!(eval(
            json!({"ForAnyValue:StringEqualsIfExists": {"kms:EncryptionContextKeys": "a"}}),
            &empty
        ));
        assert!(eval(
            json!({"boolifexists": {"kms:GrantIsForAWSResource": "true"}}),
            &empty
        ));
    }

    #[test]
    fn null_tests_presence() {
        let empty = ConditionContext::new();
        let ctx = context(&[("kms:EncryptionContextKeys", &["dept"])]);
        let absent = json!({"Null": {"kms:EncryptionContextKeys": "true"}});
        let present = json!({"Null": {"kms:EncryptionContextKeys": false}});
        assert!(eval(absent.clone(), &empty));
        assert!(!eval(absent, &ctx));
        assert!(!eval(present.clone(), &empty));
        assert!(eval(present, &ctx));
    }

    #[test]
    fn bool_operator() {
        let yes = context(&[("kms:GrantIsForAWSResource", &["true"])]);
        let no = context(&[("kms:GrantIsForAWSResource", &["false"])]);
        let c = json!({"Bool": {"kms:GrantIsForAWSResource": true}});
        assert!(eval(c.clone(), &yes));
        assert!(!eval(c, &no));
        assert!(eval(
            json!({"Bool": {"kms:GrantIsForAWSResource": "FALSE"}}),
            &no
        ));
    }

    #[test]
    fn numeric_operators() {
        let ctx = context(&[("kms:RotationPeriodInDays", &["10"])]);
        let num = |op: &str, v: Value| eval(json!({ op: {"kms:RotationPeriodInDays": v} }), &ctx);
        assert!(num("NumericEquals", json!(10)));
        assert!(num("NumericEquals", json!("10.0")));
        assert!(!num("NumericEquals", json!(11)));
        assert!(num("NumericNotEquals", json!(11)));
        assert!(!num("NumericNotEquals", json!(10)));
        assert!(num("NumericLessThan", json!(11)));
        assert!(!num("NumericLessThan", json!(10)));
        assert!(num("NumericLessThanEquals", json!(10)));
        assert!(num("NumericGreaterThan", json!("9.5")));
        assert!(!num("NumericGreaterThan", json!(10)));
        assert!(num("NumericGreaterThanEquals", json!(10)));
        assert!(num("NumericGreaterThanEquals", json!(-11.5)));
        let text = context(&[("kms:RotationPeriodInDays", &["ten"])]);
        assert!(!eval(
            json!({"NumericEquals": {"kms:RotationPeriodInDays": 10}}),
            &text
        ));
        assert!(eval(
            json!({"NumericNotEquals": {"kms:RotationPeriodInDays": 10}}),
            &text
        ));
    }

    #[test]
    fn numbers_compare_exactly_as_integers() {
        assert_eq!(
            compare_numbers("9007199254740993", "9007199254740992"),
            Some(Ordering::Greater)
        );
        assert_eq!(compare_numbers("-1", "0.5"), Some(Ordering::Less));
        assert_eq!(compare_numbers("1e3", "1000"), None);
        assert!(is_number("-0.25"));
        assert!(!is_number("1."));
        assert!(!is_number(".5"));
        assert!(!is_number(""));
        assert!(!is_number("NaN"));
    }

    #[test]
    fn arn_operators_match_part_by_part() {
        let ctx = context(&[(
            "aws:PrincipalArn",
            &["arn:aws:s3:::bucket/path:with:colons"],
        )]);
        assert!(eval(
            json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:s3:::bucket/*"}}),
            &ctx
        ));
        assert!(eval(
            json!({"ArnEquals": {"aws:PrincipalArn": "arn:*:s3:*:*:bucket/*"}}),
            &ctx
        ));
        assert!(!eval(
            json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:s3:::Bucket/*"}}),
            &ctx
        ));
        assert!(eval(
            json!({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:sqs:*:*:*"}}),
            &ctx
        ));
        assert!(!eval(
            json!({"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:s3:*:*:*"}}),
            &ctx
        ));
        assert!(eval(json!({"ArnLike": {"aws:PrincipalArn": "*"}}), &ctx));
        // A wildcard in one part does not swallow the next part's colon.
        assert!(arn_match(
            "arn:aws:kms:*:111122223333:key/*",
            "arn:aws:kms:us-east-1:111122223333:key/k"
        ));
        assert!(!arn_match(
            "arn:aws:kms:*:key/k",
            "arn:aws:kms:us-east-1:111122223333:key/k"
        ));
        assert!(!arn_match(
            "arn:aws:*:111122223333:key/k",
            "arn:aws:kms:us-east-1:111122223333:key/k"
        ));
    }

    #[test]
    fn for_all_values() {
        let c = json!({"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["dept", "project"]}});
        assert!(eval(
            c.clone(),
            &context(&[("kms:EncryptionContextKeys", &["dept"])])
        ));
        assert!(eval(
            c.clone(),
            &context(&[("kms:EncryptionContextKeys", &["project", "dept"])])
        ));
        assert!(!eval(
            c.clone(),
            &context(&[("kms:EncryptionContextKeys", &["dept", "owner"])])
        ));
        // AWS: ForAllValues holds when the key is absent.
        assert!(eval(c, &ConditionContext::new()));
        let not = json!({"ForAllValues:StringNotEquals": {"kms:EncryptionContextKeys": "secret"}});
        assert!(eval(
            not.clone(),
            &context(&[("kms:EncryptionContextKeys", &["a", "b"])])
        ));
        assert!(!eval(
            not,
            &context(&[("kms:EncryptionContextKeys", &["a", "secret"])])
        ));
    }

    #[test]
    fn for_any_value() {
        let c = json!({"ForAnyValue:StringLike": {"kms:EncryptionContextKeys": "dep*"}});
        assert!(eval(
            c.clone(),
            &context(&[("kms:EncryptionContextKeys", &["x", "dept"])])
        ));
        assert!(!eval(
            c.clone(),
            &context(&[("kms:EncryptionContextKeys", &["x", "y"])])
        ));
        assert!(!eval(c, &ConditionContext::new()));
        let not = json!({"foranyvalue:StringNotEquals": {"kms:EncryptionContextKeys": "a"}});
        assert!(eval(
            not.clone(),
            &context(&[("kms:EncryptionContextKeys", &["a", "b"])])
        ));
        assert!(!eval(
            not.clone(),
            &context(&[("kms:EncryptionContextKeys", &["a"])])
        ));
        assert!(!eval(not, &ConditionContext::new()));
    }

    #[test]
    fn unqualified_multi_valued_key() {
        let ctx = context(&[("kms:EncryptionContextKeys", &["a", "b"])]);
        assert!(eval(
            json!({"StringEquals": {"kms:EncryptionContextKeys": "b"}}),
            &ctx
        ));
        assert!(!eval(
            json!({"StringEquals": {"kms:EncryptionContextKeys": "c"}}),
            &ctx
        ));
        // The negation of the positive form: false as soon as one value matches.
        assert!(!eval(
            json!({"StringNotEquals": {"kms:EncryptionContextKeys": "b"}}),
            &ctx
        ));
        assert!(eval(
            json!({"StringNotEquals": {"kms:EncryptionContextKeys": "c"}}),
            &ctx
        ));
    }

    #[test]
    fn keys_and_operators_and() {
        let ctx = context(&[
            ("kms:CallerAccount", &["111122223333"]),
            ("kms:ViaService", &["ec2.us-east-1.amazonaws.com"]),
        ]);
        assert!(eval(
            json!({
                "StringEquals": {"kms:CallerAccount": "111122223333"},
                "StringLike": {"kms:ViaService": "ec2.*"}
            }),
            &ctx
        ));
        assert!(!eval(
            json!({"StringEquals": {"kms:CallerAccount": "111122223333", "kms:ViaService": "x"}}),
            &ctx
        ));
    }

    #[test]
    fn values_may_be_numbers_or_booleans() {
        let ctx = context(&[
            ("kms:MultiRegion", &["true"]),
            ("kms:RotationPeriodInDays", &["42"]),
        ]);
        assert!(eval(
            json!({"StringEquals": {"kms:MultiRegion": true, "kms:RotationPeriodInDays": 42}}),
            &ctx
        ));
    }

    #[test]
    fn operator_names_ignore_case() {
        let ctx = context(&[("kms:CallerAccount", &["111122223333"])]);
        assert!(eval(
            json!({"stringequals": {"kms:CallerAccount": "111122223333"}}),
            &ctx
        ));
        assert!(eval(
            json!({"FORALLVALUES:STRINGEQUALSIFEXISTS": {"kms:CallerAccount": "111122223333"}}),
            &ctx
        ));
    }

    #[test]
    fn refused_operators() {
        assert!(
            error(json!({"StringMatches": {"kms:KeySpec": "v"}}))
                .contains("unknown condition operator")
        );
        assert!(
            error(json!({"ForSomeValues:StringEquals": {"kms:KeySpec": "v"}}))
                .contains("set operator")
        );
        assert!(error(json!({"BinaryEquals": {"aws:SourceIp": "AAAA"}})).contains("not supported"));
        assert!(
            error(json!({"NullIfExists": {"kms:KeySpec": "true"}})).contains("Null takes neither")
        );
        assert!(
            error(json!({"ForAnyValue:Null": {"kms:KeySpec": "true"}}))
                .contains("Null takes neither")
        );
        assert!(
            error(json!({"IfExists": {"kms:KeySpec": "v"}})).contains("unknown condition operator")
        );
    }

    #[test]
    fn refused_values() {
        assert!(error(json!({"StringEquals": {"kms:KeySpec": []}})).contains("non-empty array"));
        assert!(error(json!({"StringEquals": {"kms:KeySpec": null}})).contains("not null"));
        assert!(
            error(json!({"StringEquals": {"kms:KeySpec": {"a": "b"}}})).contains("not an object")
        );
        assert!(error(json!({"StringEquals": "v"})).contains("must map condition keys"));
        assert!(error(json!({"StringEquals": {"": "v"}})).contains("empty key name"));
        assert!(error(json!({"Bool": {"kms:KeySpec": "yes"}})).contains("\"true\" or \"false\""));
        assert!(error(json!({"Null": {"kms:KeySpec": 1}})).contains("\"true\" or \"false\""));
        assert!(
            error(json!({"NumericEquals": {"kms:KeySpec": "ten"}})).contains("must be a number")
        );
        assert!(error(json!("StringEquals")).contains("Condition must be an object"));
    }

    #[test]
    fn policy_variables_refused_only_when_asked() {
        let c = json!({"StringEquals": {"aws:PrincipalArn": "${aws:username}"}});
        assert!(
            parse_conditions(&c, true)
                .unwrap_err()
                .contains("policy variable")
        );
        assert!(parse_conditions(&c, false).is_ok());
        // Not a variable-taking operator: a literal either way.
        assert!(parse_conditions(&json!({"NumericEquals": {"kms:KeySpec": 1}}), true).is_ok());
    }
}
