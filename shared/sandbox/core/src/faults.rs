//! Seeded fault injection.

use std::collections::VecDeque;
use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Which faults an emulator injects, and how often.
///
/// Each request calls [`FaultPlan::draw`] once. Faults queued with [`FaultPlan::inject_next`]
/// come first, in order; otherwise one uniform draw from the seeded generator is compared with
/// the configured rates, in the order they were set. The same seed and the same sequence of
/// requests give the same faults.
#[derive(Debug)]
pub struct FaultPlan<K> {
    inner: Mutex<Inner<K>>,
}

#[derive(Debug)]
struct Inner<K> {
    rng: StdRng,
    rates: Vec<(K, f64)>,
    queued: VecDeque<K>,
    injected: u64,
    /// Injected so far per kind, in the order each was first injected.
    by_kind: Vec<(K, u64)>,
}

impl<K: Clone + PartialEq> FaultPlan<K> {
    /// A plan that injects nothing until told to.
    pub fn new(seed: u64) -> Self {
        Self {
            inner: Mutex::new(Inner {
                rng: StdRng::seed_from_u64(seed),
                rates: Vec::new(),
                queued: VecDeque::new(),
                injected: 0,
                by_kind: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the probability (0..=1) that a request gets `kind`; 0 removes it.
    pub fn set_rate(&self, kind: K, probability: f64) {
        let p = probability.clamp(0.0, 1.0);
        let mut inner = self.lock();
        inner.rates.retain(|(k, _)| *k != kind);
        if p > 0.0 {
            inner.rates.push((kind, p));
        }
    }

    /// The next `count` requests get `kind`, before any random fault.
    pub fn inject_next(&self, kind: K, count: u32) {
        let mut inner = self.lock();
        for _ in 0..count {
            inner.queued.push_back(kind.clone());
        }
    }

    /// The fault for this request, if any.
    pub fn draw(&self) -> Option<K> {
        let mut inner = self.lock();
        let fault = match inner.queued.pop_front() {
            Some(k) => Some(k),
            None if inner.rates.is_empty() => None,
            None => {
                let x: f64 = inner.rng.random();
                let mut acc = 0.0;
                inner
                    .rates
                    .iter()
                    .find(|(_, p)| {
                        acc += p;
                        x < acc
                    })
                    .map(|(k, _)| k.clone())
            }
        };
        if let Some(kind) = &fault {
            inner.injected += 1;
            match inner.by_kind.iter_mut().find(|(k, _)| k == kind) {
                Some((_, n)) => *n += 1,
                None => inner.by_kind.push((kind.clone(), 1)),
            }
        }
        fault
    }

    /// Takes back a queued fault that was drawn for a request it does not apply to, so it hits
    /// the next request instead.
    pub fn put_back(&self, kind: K) {
        let mut inner = self.lock();
        if let Some((_, n)) = inner.by_kind.iter_mut().find(|(k, _)| *k == kind) {
            *n = n.saturating_sub(1);
        }
        inner.queued.push_front(kind);
        inner.injected = inner.injected.saturating_sub(1);
    }

    /// Removes every rate and queued fault.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.rates.clear();
        inner.queued.clear();
    }

    /// Restarts the random sequence from `seed`.
    pub fn reseed(&self, seed: u64) {
        self.lock().rng = StdRng::seed_from_u64(seed);
    }

    /// How many faults have been injected so far.
    pub fn injected(&self) -> u64 {
        self.lock().injected
    }

    /// How many of each kind have been injected so far (kinds never injected are absent).
    pub fn injected_by_kind(&self) -> Vec<(K, u64)> {
        self.lock()
            .by_kind
            .iter()
            .filter(|(_, n)| *n > 0)
            .cloned()
            .collect()
    }
}

/// A `--faults` value that could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultSpecError {
    #[error("fault spec {0:?} is not NAME=PROBABILITY (e.g. 503=0.05)")]
    Syntax(String),
    #[error("fault probability {value:?} for {name} is not a number between 0 and 1")]
    Probability { name: String, value: String },
}

/// Reads `name=probability,name=probability` (as given to `--faults`). The emulator maps the
/// names to its own fault kinds.
pub fn parse_fault_rates(spec: &str) -> Result<Vec<(String, f64)>, FaultSpecError> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| FaultSpecError::Syntax(item.to_owned()))?;
            let p: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .ok_or_else(|| FaultSpecError::Probability {
                    name: name.trim().to_owned(),
                    value: value.trim().to_owned(),
                })?;
            Ok((name.trim().to_owned(), p))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    enum F {
        Slow,
        Down,
    }

    #[test]
    fn queued_faults_come_first_then_none() {
        let plan = FaultPlan::new(1);
        plan.inject_next(F::Down, 2);
        plan.inject_next(F::Slow, 1);
        assert_eq!(plan.draw(), Some(F::Down));
        assert_eq!(plan.draw(), Some(F::Down));
        assert_eq!(plan.draw(), Some(F::Slow));
        assert_eq!(plan.draw(), None);
        assert_eq!(plan.injected(), 3);
        assert_eq!(plan.injected_by_kind(), vec![(F::Down, 2), (F::Slow, 1)]);
    }

    #[test]
    fn same_seed_gives_same_sequence_and_rates_hold_roughly() {
        let a = FaultPlan::new(42);
        let b = FaultPlan::new(42);
        for p in [&a, &b] {
            p.set_rate(F::Down, 0.2);
            p.set_rate(F::Slow, 0.1);
        }
        let sa: Vec<_> = (0..1000).map(|_| a.draw()).collect();
        let sb: Vec<_> = (0..1000).map(|_| b.draw()).collect();
        assert_eq!(sa, sb);
        let down = sa.iter().filter(|f| **f == Some(F::Down)).count();
        let slow = sa.iter().filter(|f| **f == Some(F::Slow)).count();
        assert!((140..260).contains(&down), "{down}");
        assert!((60..140).contains(&slow), "{slow}");
        a.clear();
        assert!((0..100).all(|_| a.draw().is_none()));
    }

    #[test]
    fn put_back_defers_a_fault() {
        let plan = FaultPlan::new(0);
        plan.inject_next(F::Down, 1);
        let f = plan.draw().unwrap();
        plan.put_back(f);
        assert_eq!(plan.injected(), 0);
        assert!(plan.injected_by_kind().is_empty());
        assert_eq!(plan.draw(), Some(F::Down));
    }

    #[test]
    fn fault_specs_parse_or_explain() {
        assert_eq!(
            parse_fault_rates("503=0.05, lock=0.1,").unwrap(),
            vec![("503".to_owned(), 0.05), ("lock".to_owned(), 0.1)]
        );
        assert!(matches!(
            parse_fault_rates("503"),
            Err(FaultSpecError::Syntax(_))
        ));
        assert!(matches!(
            parse_fault_rates("503=2"),
            Err(FaultSpecError::Probability { .. })
        ));
    }
}
