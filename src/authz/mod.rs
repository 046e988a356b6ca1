//! Authorization: the AWS IAM policy language as AWS KMS uses it, for key
//! policies and identity policies. Pure: it parses documents and decides
//! requests, and knows nothing of HTTP, the store or how callers are found.

mod condition;
mod keys;
mod policy;
mod session;
mod typed_values;

pub use condition::ConditionContext;
pub use policy::{Policy, PolicyError, PolicyKind};
pub use session::{names_role_of_session, role_of_session};

/// What is being asked: who calls which action on which resource, and the
/// request's condition keys.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The caller's ARN, e.g. `arn:aws:iam::111122223333:user/alice` (or
    /// `arn:aws:iam::111122223333:root` for the account itself).
    pub principal_arn: &'a str,
    /// The 12 digits of the caller's account.
    pub principal_account: &'a str,
    /// The action, e.g. `kms:Encrypt`.
    pub action: &'a str,
    /// The resource: a key ARN, e.g.
    /// `arn:aws:kms:us-east-1:111122223333:key/<id>`.
    pub resource: &'a str,
    /// The request's condition keys and their values.
    pub context: &'a ConditionContext,
}

/// What a policy says about a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// An applicable statement denies: wins over everything.
    Deny,
    /// A statement allows this principal directly: it names the principal's
    /// ARN, or `"*"`, or (in an identity policy) it allows whoever holds the
    /// policy. An account principal also gives `Allow` when the caller is
    /// that account's root (`arn:aws:iam::ACCT:root`) itself.
    Allow,
    /// A statement allows the principal's whole account
    /// (`arn:aws:iam::ACCT:root` or `ACCT`): in a key policy this delegates to
    /// the caller's identity policy, which then decides.
    AllowAccount,
    /// No statement applies: an implicit deny.
    NotApplicable,
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters
/// (also none) and `?` exactly one; every other character matches itself.
fn glob_match(pattern: &str, text: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return pattern == text;
    }
    // The common shapes, `*` and `prefix*` (`kms:*`, `arn:aws:kms:*`), are
    // a prefix test.
    if let Some(prefix) = pattern.strip_suffix('*')
        && !prefix.contains(['*', '?'])
    {
        return text.starts_with(prefix);
    }
    if pattern.is_ascii() && text.is_ascii() {
        return glob(pattern.as_bytes(), text.as_bytes(), b'*', b'?');
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    glob(&pattern, &text, '*', '?')
}

/// [`glob_match`] over characters (or, for ASCII, bytes), where `star` and
/// `one` are the wildcards.
fn glob<C: Copy + PartialEq>(pattern: &[C], text: &[C], star: C, one: C) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where to resume after the latest `*`: its pattern position and the
    // text position it has swallowed up to.
    let mut resume: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(&c) if c == star => {
                resume = Some((p, t));
                p += 1;
            }
            Some(&c) if c == one || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match resume {
                Some((star_p, star_t)) => {
                    resume = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == star)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn glob_literals() {
        assert!(glob_match("kms:Encrypt", "kms:Encrypt"));
        assert!(!glob_match("kms:Encrypt", "kms:EncryptX"));
        assert!(!glob_match("kms:Encrypt", "kms:Encryp"));
        assert!(glob_match("", ""));
        assert!(!glob_match("", "a"));
    }

    #[test]
    fn glob_star() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything at all"));
        assert!(glob_match("kms:*", "kms:Decrypt"));
        assert!(glob_match(
            "kms:Generate*",
            "kms:GenerateDataKeyWithoutPlaintext"
        ));
        assert!(!glob_match("kms:Generate*", "kms:Encrypt"));
        assert!(!glob_match("kms:Generate*", "kms:Gen"));
        assert!(glob_match("kms:Generate*", "kms:Generate"));
        assert!(glob_match("ü*", "üx"));
        assert!(!glob_match("ü*", "u"));
        assert!(glob_match("*Key*", "kms:GenerateDataKeyPair"));
        assert!(glob_match("a*b*c", "aXbYbZc"));
        assert!(!glob_match("a*b*c", "aXbYbZ"));
        assert!(glob_match("a**b", "ab"));
        assert!(glob_match("*a", "aaaa"));
    }

    #[test]
    fn glob_question_mark() {
        assert!(glob_match("kms:?ncrypt", "kms:Encrypt"));
        assert!(!glob_match("kms:?ncrypt", "kms:ncrypt"));
        assert!(glob_match("??", "éé"));
        assert!(!glob_match("?", ""));
        assert!(glob_match("*?", "x"));
    }

    #[test]
    fn glob_wildcards_in_text_are_literal() {
        assert!(!glob_match("a?c", "a"));
        assert!(glob_match("a*", "a*"));
        assert!(!glob_match("abc", "a*"));
    }
}
