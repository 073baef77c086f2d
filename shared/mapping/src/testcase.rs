//! Runs the test cases written inside spec files (`ledgerforce mapping test`).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::SpecSet;
use crate::compile::CompiledTest;
use crate::plan::{MapContext, Mapped};

/// The result of one test case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    pub file: String,
    pub line: u32,
    pub name: String,
    /// Empty when the test passed; otherwise what differed, one problem per line.
    pub failures: Vec<String>,
}

impl TestOutcome {
    /// Whether the test case gave what it expects.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Every test case's outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestReport {
    pub outcomes: Vec<TestOutcome>,
}

impl TestReport {
    /// The number of test cases that passed.
    pub fn passed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.passed()).count()
    }

    /// The number of test cases that failed.
    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.passed()
    }
}

impl fmt::Display for TestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for o in &self.outcomes {
            let status = if o.passed() { "ok  " } else { "FAIL" };
            writeln!(f, "{status} {}:{} {}", o.file, o.line, o.name)?;
            for line in &o.failures {
                writeln!(f, "       {line}")?;
            }
        }
        write!(f, "{} passed, {} failed", self.passed(), self.failed())
    }
}

pub(crate) fn run(specs: &SpecSet, tests: &[CompiledTest]) -> TestReport {
    let outcomes = tests
        .iter()
        .map(|t| TestOutcome {
            file: t.file.clone(),
            line: t.line,
            name: t.spec.name.clone(),
            failures: run_one(specs, t),
        })
        .collect();
    TestReport { outcomes }
}

fn run_one(specs: &SpecSet, t: &CompiledTest) -> Vec<String> {
    let mut failures = Vec::new();
    let plan = match specs.mapping(t.flow, &t.spec.mapping) {
        Ok(p) => p,
        Err(e) => return vec![e.to_string()],
    };
    let e = &t.spec.expect;
    if let Some(want) = &e.match_keys {
        let got: BTreeMap<String, String> = plan
            .matching()
            .map(|m| m.source_keys(&t.spec.input).into_iter().collect())
            .unwrap_or_default();
        if &got != want {
            failures.push(format!("match keys: expected {want:?}, got {got:?}"));
        }
    }
    let cx = MapContext {
        entity: None,
        rates: (!t.rates.is_empty()).then_some(&t.rates),
    };
    let result = plan.map(&t.spec.input, &cx);
    match (result, &e.error) {
        (Err(err), Some(want)) => {
            if !err.to_string().contains(want.as_str()) {
                failures.push(format!("expected an error containing `{want}`, got: {err}"));
            }
        }
        (Err(err), None) => failures.push(format!("unexpected error: {err}")),
        (Ok(_), Some(want)) => failures.push(format!(
            "expected an error containing `{want}`, but it mapped"
        )),
        (Ok(Mapped::Skipped), None) => {
            if !e.skipped && e.output.is_some() {
                failures
                    .push("expected output, but the mapping's `when` skipped the record".into());
            }
        }
        (Ok(Mapped::Record(rec)), None) => {
            if e.skipped {
                failures.push("expected the record to be skipped, but it mapped".into());
            }
            if let Some(want) = &e.entity {
                let got = rec.entity.as_ref().map(ToString::to_string);
                if got.as_deref() != Some(want.as_str()) {
                    failures.push(format!(
                        "entity: expected {want}, got {}",
                        got.unwrap_or_else(|| "none".into())
                    ));
                }
            }
            if let Some(want) = &e.output {
                diff("", want, &Value::Object(rec.fields), &mut failures);
            }
        }
    }
    failures
}

/// Lists where `got` differs from `want`, by path.
fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    let at = |p: &str| {
        if p.is_empty() {
            "(record)".to_owned()
        } else {
            p.to_owned()
        }
    };
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match g.get(k) {
                    Some(gv) => diff(&p, wv, gv, out),
                    None => out.push(format!("{p}: expected {wv}, but it is not mapped")),
                }
            }
            for (k, gv) in g {
                if !w.contains_key(k) {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    out.push(format!("{p}: not expected, but mapped to {gv}"));
                }
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                diff(&format!("{path}[{i}]"), wv, gv, out);
            }
        }
        _ if want != got => out.push(format!("{}: expected {want}, got {got}", at(path))),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_each_differing_path() {
        let mut out = Vec::new();
        diff(
            "",
            &json!({"A": 1, "B": {"C": "x"}, "L": [{"q": 1}], "M": 2}),
            &json!({"A": 1, "B": {"C": "y"}, "L": [{"q": 2}], "N": 3}),
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                "B.C: expected \"x\", got \"y\"",
                "L[0].q: expected 1, got 2",
                "M: expected 2, but it is not mapped",
                "N: not expected, but mapped to 3",
            ]
        );
    }
}
