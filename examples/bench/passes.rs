//! Ratios over several passes: with `--passes N` the operations, the
//! ceiling and the raw token work are measured N times, one after the
//! other, and each ratio is reported as its median over the passes with its
//! range. A machine whose speed drifts over minutes (shared cloud CPUs)
//! moves both sides of a ratio alike within a pass, so the median of the
//! per-pass ratios holds where one pass's ratio does not.

use crate::{CeilingFigures, Plan, RawFigures, ServiceFigures};
use std::collections::BTreeMap;

/// A figure's value in each pass, by (op, concurrency).
type Series = BTreeMap<(usize, usize), Vec<f64>>;

/// Each pass's ratios.
#[derive(Default)]
pub struct Passes {
    count: usize,
    /// Operation names, in the plan's order.
    names: Vec<&'static str>,
    rate_to_ceiling: Series,
    cpu_to_ceiling: Series,
    rate_to_raw: Series,
    cpu_to_raw: Series,
    ceiling_to_raw: Series,
}

/// Throughput ÷ the ceiling's, and CPU per request × the ceiling's, for
/// `op` at `concurrency`: `None` when either side was not measured.
pub fn ceiling_ratios(
    service: &ServiceFigures,
    ceilings: &CeilingFigures,
    op: &'static str,
    concurrency: usize,
) -> Option<(Option<f64>, Option<f64>)> {
    let (&(rate, cpu), &(top, top_cpu)) = (
        service.get(&(op, concurrency))?,
        ceilings.get(&concurrency)?,
    );
    let rate_ratio = (top > 0.0).then(|| rate / top);
    let cpu_multiple = match (cpu, top_cpu) {
        (Some(s), Some(t)) if !t.is_zero() => Some(s.as_secs_f64() / t.as_secs_f64()),
        _ => None,
    };
    Some((rate_ratio, cpu_multiple))
}

/// Throughput ÷ the raw token work's, and CPU per request × its CPU per
/// operation, from a service point (req/s, CPU per request) and a raw one
/// (ops/s, CPU µs per operation): `None` for a ratio whose divisor is 0 or
/// unmeasured.
pub fn raw_ratios(
    (rate, cpu): (f64, Option<std::time::Duration>),
    (raw_rate, raw_cpu): (f64, Option<f64>),
) -> (Option<f64>, Option<f64>) {
    let rate_ratio = (raw_rate > 0.0).then(|| rate / raw_rate);
    let cpu_multiple = match (cpu, raw_cpu) {
        (Some(s), Some(r)) if r > 0.0 => Some(s.as_secs_f64() * 1e6 / r),
        _ => None,
    };
    (rate_ratio, cpu_multiple)
}

/// The ceiling's throughput ÷ the raw token work's at `concurrency`: the
/// most of raw that any service behind this HTTP stack and load generator
/// could reach on this machine (`None` when either side is missing).
pub fn ceiling_over_raw(
    ceilings: &CeilingFigures,
    concurrency: usize,
    (raw_rate, _): (f64, Option<f64>),
) -> Option<f64> {
    let &(top, _) = ceilings.get(&concurrency)?;
    (raw_rate > 0.0).then(|| top / raw_rate)
}

impl Passes {
    /// Records one pass's ratios.
    pub fn add(
        &mut self,
        plan: &Plan,
        service: &ServiceFigures,
        ceilings: Option<&CeilingFigures>,
        raws: Option<&RawFigures>,
    ) {
        self.count += 1;
        self.names = plan.ops.iter().map(|op| op.name()).collect();
        for (i, &name) in self.names.iter().enumerate() {
            for &c in &plan.levels {
                let point = (i, c);
                if let Some((rate, cpu)) =
                    ceilings.and_then(|t| ceiling_ratios(service, t, name, c))
                {
                    push(&mut self.rate_to_ceiling, point, rate);
                    push(&mut self.cpu_to_ceiling, point, cpu);
                }
                let (Some(&served), Some(&raw)) = (
                    service.get(&(name, c)),
                    raws.and_then(|r| r.get(&(name, c))),
                ) else {
                    continue;
                };
                let (rate, cpu) = raw_ratios(served, raw);
                push(&mut self.rate_to_raw, point, rate);
                push(&mut self.cpu_to_raw, point, cpu);
                let bound = ceilings.and_then(|t| ceiling_over_raw(t, c, raw));
                push(&mut self.ceiling_to_raw, point, bound);
            }
        }
    }

    /// Prints each ratio's median over the passes, with its range.
    pub fn print(&self) {
        println!();
        println!(
            "# medians over {} passes (min–max): req/s ÷ ceiling (higher is better), server CPU \
             per request × ceiling's (lower is better), req/s ÷ raw, CPU × raw, and the \
             ceiling's req/s ÷ raw (the most of raw any service could reach here)",
            self.count
        );
        println!(
            "op            conc   req/s ÷ ceiling        CPU × ceiling          req/s ÷ raw            CPU × raw              ceiling ÷ raw"
        );
        let points: std::collections::BTreeSet<_> = self
            .rate_to_ceiling
            .keys()
            .chain(self.rate_to_raw.keys())
            .copied()
            .collect();
        for point in points {
            println!(
                "{:<12} {:>5}   {:<22} {:<22} {:<22} {:<22} {}",
                self.names[point.0],
                point.1,
                summary(self.rate_to_ceiling.get(&point), 3),
                summary(self.cpu_to_ceiling.get(&point), 2),
                summary(self.rate_to_raw.get(&point), 3),
                summary(self.cpu_to_raw.get(&point), 2),
                summary(self.ceiling_to_raw.get(&point), 3),
            );
        }
    }
}

fn push(series: &mut Series, point: (usize, usize), value: Option<f64>) {
    if let Some(value) = value.filter(|v| v.is_finite()) {
        series.entry(point).or_default().push(value);
    }
}

/// `median (min–max)` of `values` with `digits` decimals, or `-`.
fn summary(values: Option<&Vec<f64>>, digits: usize) -> String {
    let Some(values) = values.filter(|v| !v.is_empty()) else {
        return "-".into();
    };
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    format!(
        "{median:.digits$} ({:.digits$}–{:.digits$})",
        sorted[0],
        sorted[n - 1]
    )
}

#[cfg(test)]
mod tests {
    use super::{ceiling_over_raw, raw_ratios, summary};
    use std::time::Duration;

    #[test]
    fn summary_is_the_median_and_range() {
        assert_eq!(summary(Some(&vec![3.0, 1.0, 2.0]), 1), "2.0 (1.0–3.0)");
        assert_eq!(
            summary(Some(&vec![4.0, 1.0, 2.0, 3.0]), 2),
            "2.50 (1.00–4.00)"
        );
        assert_eq!(summary(Some(&vec![]), 2), "-");
        assert_eq!(summary(None, 2), "-");
    }

    #[test]
    fn raw_ratios_divide_by_the_raw_figures_they_have() {
        let served = (100.0, Some(Duration::from_micros(20)));
        assert_eq!(
            raw_ratios(served, (400.0, Some(10.0))),
            (Some(0.25), Some(2.0))
        );
        assert_eq!(raw_ratios(served, (0.0, Some(0.0))), (None, None));
        assert_eq!(raw_ratios((100.0, None), (400.0, None)), (Some(0.25), None));
    }

    #[test]
    fn the_bound_is_the_ceiling_over_raw_at_the_same_concurrency() {
        let ceilings = [(16, (40_000.0, None))].into_iter().collect();
        assert_eq!(
            ceiling_over_raw(&ceilings, 16, (200_000.0, Some(7.0))),
            Some(0.2)
        );
        assert_eq!(ceiling_over_raw(&ceilings, 64, (200_000.0, None)), None);
        assert_eq!(ceiling_over_raw(&ceilings, 16, (0.0, None)), None);
    }
}
