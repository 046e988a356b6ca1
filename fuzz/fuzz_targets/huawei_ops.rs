//! The Huawei dialect's request parsing and dispatch: an arbitrary method,
//! path, query and body, signed with SDK-HMAC-SHA256 as Huawei's SDKs sign
//! them (or carrying an X-Auth-Token) and sent to the real handler over a
//! real in-process Kms. The path is routed, the project resolved, the body's
//! fields read and, when they pass, the operation run. A panic, a 5xx
//! answer or one not in the dialect's shape is a failure.
//!
//! Input: `METHOD /path?query [flags]\n` then the body. Flags: `t` sends
//! the X-Auth-Token instead of a signature, `a` signs as alice (else the
//! account root). Projects `east` (us-east-1) and `west` (us-west-2) exist;
//! the path and body may hold the placeholders of `trent_fuzz` (`@K0`,
//! `@H2`, `@X0`, ...).

#![no_main]

use axum::http::{Method, Uri};
use libfuzzer_sys::fuzz_target;
use trent_fuzz::{Who, service};

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let service = service();
    let head = service.substitute(head);
    let head = String::from_utf8_lossy(&head);
    let mut words = head.split_whitespace();
    let (Some(method), Some(uri)) = (words.next(), words.next()) else {
        return;
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return;
    };
    let Ok(uri) = uri.parse::<Uri>() else {
        return;
    };
    if !uri.path().starts_with('/') || uri.authority().is_some() {
        return;
    }
    let flags: String = words.collect();
    let who = if flags.contains('a') {
        Who::Alice
    } else {
        Who::Root
    };
    let what = format!("{method} {uri}");
    let body = service.substitute(body);
    service
        .huawei(method, uri, &body, who, flags.contains('t'))
        .check(&what);
});
