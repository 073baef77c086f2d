//! The test cases written in flow files.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Arc;

use chrono::NaiveDate;
use lf_domain::{CurrencyCode, Flow};
use rust_decimal::Decimal;

use super::{CompiledTest, Compiler};
use crate::plan::MappingPlan;
use crate::rates::Rates;
use crate::spec::RateSpec;
use crate::yaml::{child_path, index_path};

impl Compiler<'_, '_> {
    pub(super) fn tests(
        &mut self,
        f: usize,
        flow: Flow,
        mappings: &BTreeMap<String, Arc<MappingPlan>>,
        out: &mut Vec<CompiledTest>,
    ) {
        let Some(spec) = self.spec(f) else { return };
        let mut names = BTreeSet::new();
        for tl in &spec.tests {
            let Some(t) = &tl.value else { continue };
            if !names.insert(t.name.clone()) {
                self.d.at(
                    f,
                    &child_path(&tl.path, "name"),
                    format!("test name `{}` is used twice", t.name),
                );
            }
            if !mappings.contains_key(&t.mapping) {
                if spec.mappings.contains_key(&t.mapping) {
                    // Declared but did not compile: its errors are already reported.
                    continue;
                }
                let known: Vec<&str> = mappings.keys().map(String::as_str).collect();
                self.d.undefined(
                    f,
                    &child_path(&tl.path, "mapping"),
                    "mappings",
                    "mapping",
                    &t.mapping,
                    known,
                );
                continue;
            }
            let e = &t.expect;
            let kinds = [e.output.is_some(), e.skipped, e.error.is_some()]
                .iter()
                .filter(|x| **x)
                .count();
            if kinds > 1 || (kinds == 0 && e.match_keys.is_none()) {
                self.d.at(f, &child_path(&tl.path, "expect"), "expect one of `output`, `skipped` or `error` (and optionally `entity`, `match_keys`)");
                continue;
            }
            let rates = self.rates(f, &child_path(&tl.path, "rates"), &t.rates);
            let line = self.files[f]
                .doc
                .as_ref()
                .map(|d| d.pos(&tl.path).line)
                .unwrap_or(1);
            out.push(CompiledTest {
                file: self.files[f].name.clone(),
                line,
                flow,
                spec: t.clone(),
                rates,
            });
        }
    }

    /// A test case's exchange rates, each checked: codes, the date, a positive rate.
    fn rates(&mut self, f: usize, path: &str, raw: &[RateSpec]) -> Rates {
        let mut rates = Rates::new();
        for (i, r) in raw.iter().enumerate() {
            let p = index_path(path, i);
            let from = CurrencyCode::parse(&r.from)
                .map_err(|e| self.d.at(f, &child_path(&p, "from"), e.to_string()))
                .ok();
            let to = CurrencyCode::parse(&r.to)
                .map_err(|e| self.d.at(f, &child_path(&p, "to"), e.to_string()))
                .ok();
            let date = NaiveDate::parse_from_str(r.date.trim(), "%Y-%m-%d")
                .map_err(|_| {
                    self.d.at(
                        f,
                        &child_path(&p, "date"),
                        format!("`{}` is not a date (yyyy-MM-dd)", r.date),
                    )
                })
                .ok();
            let rate = match Decimal::from_str(r.rate.trim()) {
                Ok(x) if x > Decimal::ZERO => Some(x),
                _ => {
                    self.d.at(
                        f,
                        &child_path(&p, "rate"),
                        format!("rate `{}` is not a positive decimal", r.rate),
                    );
                    None
                }
            };
            if let (Some(from), Some(to), Some(date), Some(rate)) = (from, to, date, rate)
                && let Err(e) = rates.insert(from, to, date, rate)
            {
                self.d.at(f, &p, e.to_string());
            }
        }
        rates
    }
}
