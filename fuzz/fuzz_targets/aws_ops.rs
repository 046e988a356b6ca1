//! The AWS dialect, every operation: an operation from the full list and an
//! arbitrary JSON body, signed as a client would sign them and sent to the
//! real handler over a real in-process Kms (SoftHSM tokens in a temporary
//! directory). The body is decoded into the operation's request shape,
//! validated and, when it passes, run against the keys and HSMs. A panic,
//! a 5xx answer or one not in the dialect's shape is a failure.
//!
//! Input: `Operation [flags]\n` then the body. An operation name that is not
//! on the list picks one by its bytes. Flags: `w` signs for us-west-2 (else
//! us-east-1), `a` signs as alice (else the account root). The body may hold
//! the placeholders of `trent_fuzz` (`@K0`, `@C0`, ...).

#![no_main]

use libfuzzer_sys::fuzz_target;
use trent::api::aws::OPERATIONS;
use trent_fuzz::{REGIONS, Who, service};

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut words = head.split_whitespace();
    let name = words.next().unwrap_or("");
    let operation = OPERATIONS
        .iter()
        .find(|op| **op == name)
        .copied()
        .unwrap_or_else(|| {
            OPERATIONS[name.bytes().map(usize::from).sum::<usize>() % OPERATIONS.len()]
        });
    let flags: String = words.collect();
    let region = if flags.contains('w') {
        REGIONS[1]
    } else {
        REGIONS[0]
    };
    let who = if flags.contains('a') {
        Who::Alice
    } else {
        Who::Root
    };
    let service = service();
    let body = service.substitute(body);
    service.aws(operation, region, who, &body).check(operation);
});
