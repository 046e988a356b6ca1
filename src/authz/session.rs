//! Assumed-role sessions as IAM sees them: a session
//! (`arn:aws:iam::111122223333:assumed-role/Role/session`) acts as its role.
//! A policy or grant naming the role (`arn:aws:iam::111122223333:role/Role`,
//! with or without a path) reaches every session of it, and
//! `aws:PrincipalArn` is the role's ARN.

/// The account and role name of an assumed-role session ARN.
fn session_of(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let (role, session) = resource.strip_prefix("assumed-role/")?.split_once('/')?;
    (!role.is_empty() && !session.is_empty()).then_some((account, role))
}

/// The ARN of the role whose session `arn` is (without a path: a session's
/// ARN does not carry its role's path), or `None` for any other principal.
pub fn role_of_session(arn: &str) -> Option<String> {
    session_of(arn).map(|(account, role)| format!("arn:aws:iam::{account}:role/{role}"))
}

/// Whether `named` (a principal a policy or grant names) is the role whose
/// session `caller` is: the same account and role name, the role under any
/// path.
pub fn names_role_of_session(named: &str, caller: &str) -> bool {
    let Some((account, role)) = session_of(caller) else {
        return false;
    };
    named
        .strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.strip_prefix(account))
        .and_then(|rest| rest.strip_prefix(":role/"))
        .is_some_and(|path| path.rsplit('/').next() == Some(role))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &str = "arn:aws:iam::111122223333:assumed-role/Deploy/ci-42";

    #[test]
    fn a_session_acts_as_its_role() {
        assert_eq!(
            role_of_session(SESSION).as_deref(),
            Some("arn:aws:iam::111122223333:role/Deploy")
        );
        assert!(names_role_of_session(
            "arn:aws:iam::111122223333:role/Deploy",
            SESSION
        ));
        assert!(names_role_of_session(
            "arn:aws:iam::111122223333:role/teams/ops/Deploy",
            SESSION
        ));
    }

    #[test]
    fn other_roles_accounts_and_principals_are_not_its_role() {
        for named in [
            "arn:aws:iam::111122223333:role/Deployer",
            "arn:aws:iam::111122223333:role/Deploy/x",
            "arn:aws:iam::444455556666:role/Deploy",
            "arn:aws:iam::111122223333:user/Deploy",
            "arn:aws:iam::111122223333:root",
        ] {
            assert!(!names_role_of_session(named, SESSION), "{named}");
        }
        for caller in [
            "arn:aws:iam::111122223333:user/Deploy",
            "arn:aws:iam::111122223333:assumed-role/Deploy",
            "arn:aws:iam::111122223333:assumed-role//s",
            "arn:aws:iam::111122223333:role/Deploy",
        ] {
            assert_eq!(role_of_session(caller), None, "{caller}");
            assert!(
                !names_role_of_session("arn:aws:iam::111122223333:role/Deploy", caller),
                "{caller}"
            );
        }
    }
}
