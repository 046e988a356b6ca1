//! Policy documents (`src/authz/`): parsing with validation, and the
//! evaluation of requests, conditions included. A document must be refused
//! or parsed without panicking; a parsed one then decides a few requests
//! with arbitrary principals, actions, resources and condition keys, and
//! whenever it allows one, its `PutKeyPolicy` lockout check
//! (`allows_principal_action`, which ignores conditions) must allow it too.
//!
//! Input: the document, then optionally a NUL byte and the bytes from which
//! the kind of policy and the requests are drawn.

#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use trent::authz::{ConditionContext, Decision, Policy, PolicyKind, Request};

const PRINCIPALS: &[&str] = &[
    "arn:aws:iam::111122223333:root",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::111122223333:role/admin",
    "arn:aws:iam::444455556666:user/bob",
];
const ACTIONS: &[&str] = &[
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
    "kms:PutKeyPolicy",
    "kms:CreateGrant",
    "kms:ScheduleKeyDeletion",
];
const RESOURCES: &[&str] = &[
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
    "arn:aws:kms:us-east-1:444455556666:key/0000",
];
const KEYS: &[&str] = &[
    "kms:CallerAccount",
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:RequestedRegion",
    "kms:GrantIsForAWSResource",
    "kms:KeySpec",
    "kms:KeyUsage",
    "kms:KeyOrigin",
    "kms:MultiRegion",
    "kms:EncryptionContextKeys",
    "kms:EncryptionContext:purpose",
    "kms:EncryptionContext:Department",
];

/// One of `known`, or an arbitrary string.
fn pick(u: &mut Unstructured<'_>, known: &[&str]) -> Result<String> {
    let i = u.choose_index(known.len() + 1)?;
    match known.get(i) {
        Some(s) => Ok(s.to_string()),
        None => u.arbitrary(),
    }
}

fn decide(policy: &Policy, u: &mut Unstructured<'_>) -> Result<()> {
    let principal = pick(u, PRINCIPALS)?;
    let account = pick(u, &["111122223333", "444455556666"])?;
    let action = pick(u, ACTIONS)?;
    let resource = pick(u, RESOURCES)?;
    let mut context = ConditionContext::new();
    for _ in 0..u.choose_index(5)? {
        let key = pick(u, KEYS)?;
        let values: Vec<String> = u.arbitrary()?;
        context.set(&key, values);
    }
    let decision = policy.evaluate(&Request {
        principal_arn: &principal,
        principal_account: &account,
        action: &action,
        resource: &resource,
        context: &context,
    });
    if matches!(decision, Decision::Allow | Decision::AllowAccount) {
        assert!(
            policy.allows_principal_action(&principal, &account, &action, &resource),
            "evaluate allowed {action} on {resource} for {principal} but the lockout check does not"
        );
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let (doc, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(doc) = std::str::from_utf8(doc) else {
        return;
    };
    let mut u = Unstructured::new(rest);
    let kind = if u.arbitrary().unwrap_or(false) {
        PolicyKind::Identity
    } else {
        PolicyKind::Key
    };
    let Ok(policy) = Policy::parse(doc, kind) else {
        return;
    };
    for _ in 0..4 {
        if decide(&policy, &mut u).is_err() {
            break;
        }
    }
});
