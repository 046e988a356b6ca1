//! A bound on the token calls that take long (RSA key generation: tens of
//! milliseconds for RSA_2048, seconds for RSA_4096): past it, a request is
//! refused at once with `ThrottlingException`, as AWS throttles requests
//! beyond its quotas, instead of waiting for a blocking thread and a token
//! session while the others run. Without it, a few hundred concurrent
//! GenerateDataKeyPair calls could occupy every blocking thread, and every
//! request that needs one would wait behind them for minutes.

use super::{KmsError, KmsResult};
use crate::hsm::SecretKind;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Most long token calls in flight on a node at once.
pub const MAX_LONG_CALLS: usize = 16;

/// The long token calls in flight.
#[derive(Default)]
pub(super) struct LongCalls {
    in_flight: AtomicUsize,
}

/// One long call in flight; it ends when dropped.
pub(super) struct LongCall<'a> {
    calls: &'a LongCalls,
}

impl LongCalls {
    /// Counts a long call for `operation`, or refuses it with
    /// `ThrottlingException` when [`MAX_LONG_CALLS`] are in flight.
    pub(super) fn begin(&self, operation: &str) -> KmsResult<LongCall<'_>> {
        let admitted = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_LONG_CALLS).then_some(n + 1)
            })
            .is_ok();
        if !admitted {
            return Err(KmsError::Throttled(format!(
                "Rate exceeded: {MAX_LONG_CALLS} key-pair generations are in progress on this \
                 node; retry {operation} later."
            )));
        }
        Ok(LongCall { calls: self })
    }

    /// [`LongCalls::begin`] for generating a key of `kind` when that is a
    /// long call (an RSA key pair); nothing to count for other kinds.
    pub(super) fn begin_generating(
        &self,
        kind: SecretKind,
        operation: &str,
    ) -> KmsResult<Option<LongCall<'_>>> {
        matches!(kind, SecretKind::Rsa(..))
            .then(|| self.begin(operation))
            .transpose()
    }
}

impl Drop for LongCall<'_> {
    fn drop(&mut self) {
        self.calls.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_bound_and_again_once_one_ends() {
        let calls = LongCalls::default();
        let held: Vec<_> = (0..MAX_LONG_CALLS)
            .map(|_| calls.begin("GenerateDataKeyPair").unwrap())
            .collect();
        assert!(matches!(
            calls.begin("GenerateDataKeyPair"),
            Err(KmsError::Throttled(_))
        ));
        drop(held);
        assert!(calls.begin("GenerateDataKeyPair").is_ok());
    }
}
