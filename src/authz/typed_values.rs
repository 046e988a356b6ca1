//! Condition values that are dates or IP addresses, for the `Date...` and
//! `IpAddress`/`NotIpAddress` operators.

use std::cmp::Ordering;
use std::net::IpAddr;
use time::OffsetDateTime;
use time::format_description::well_known::Iso8601;

/// A date as AWS accepts it in a condition: ISO 8601 (a date, or a date
/// and time with an offset) or a number of seconds since the Unix epoch.
/// Returns Unix seconds.
pub(super) fn date(s: &str) -> Option<i128> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Iso8601::DEFAULT) {
        return Some(t.unix_timestamp().into());
    }
    let day = time::Date::parse(s, &Iso8601::DEFAULT).ok()?;
    Some(day.midnight().assume_utc().unix_timestamp().into())
}

/// Compares two dates; `None` when either is not one.
pub(super) fn compare_dates(a: &str, b: &str) -> Option<Ordering> {
    Some(date(a)?.cmp(&date(b)?))
}

/// An address or a CIDR block (`10.0.0.0/8`, `2001:db8::/32`).
pub(super) fn cidr(s: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match s.split_once('/') {
        Some((addr, bits)) => (addr, Some(bits)),
        None => (s, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) if !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()) => b.parse().ok()?,
        Some(_) => return None,
        None => max,
    };
    (bits <= max).then_some((addr, bits))
}

/// Whether address `ip` lies in the block `range`.
pub(super) fn ip_in(ip: &str, range: &str) -> bool {
    let (Ok(ip), Some((net, bits))) = (ip.parse::<IpAddr>(), cidr(range)) else {
        return false;
    };
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a).into(), u32::from(b).into(), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (ip >> shift) == (net >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_aws_forms() {
        assert_eq!(date("1700000000"), Some(1_700_000_000));
        assert_eq!(date("2026-12-01T00:00:00Z"), Some(1_796_083_200));
        assert_eq!(date("2026-12-01"), Some(1_796_083_200));
        assert_eq!(date("2026-12-01T01:00:00+01:00"), Some(1_796_083_200));
        assert_eq!(date("yesterday"), None);
        assert_eq!(
            compare_dates("2026-12-02T00:00:00Z", "2026-12-01"),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn addresses_and_blocks() {
        assert!(ip_in("10.1.2.3", "10.0.0.0/8"));
        assert!(!ip_in("11.1.2.3", "10.0.0.0/8"));
        assert!(ip_in("127.0.0.1", "127.0.0.1"));
        assert!(ip_in("192.0.2.7", "0.0.0.0/0"));
        assert!(ip_in("2001:db8::1", "2001:db8::/32"));
        assert!(!ip_in("2001:db9::1", "2001:db8::/32"));
        assert!(!ip_in("10.0.0.1", "2001:db8::/32"));
        assert!(cidr("10.0.0.0/33").is_none());
        assert!(cidr("10.0.0.0/").is_none());
        assert!(cidr("not-an-ip").is_none());
    }
}
