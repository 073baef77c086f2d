//! Drift: linked record pairs that no longer agree through their mapping (DESIGN.md §4).
//!
//! A change the sync never heard of (an edit made while a webhook and the poller both missed
//! it, a field edited on the side that does not own it, a fix made by hand on one side) leaves
//! a linked pair disagreeing. A drift check reads every linked pair — a page of links at a time,
//! one batched read per object and side per page — maps each record towards the other, and
//! reports the fields that differ, with the side that owns each (its system of record, else the
//! side modified last). A repair writes the owner's values, exactly as account-sync settles a
//! conflict, and records fingerprints and audit entries so the writes' echoes are recognised.
//!
//! The check is [`crate::AccountSync::check_drift`]; this module holds what it reports.

use std::fmt::Write as _;

use lf_domain::{RecordRef, System};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a drift check looks at and does.
#[derive(Debug, Clone)]
pub struct DriftOptions {
    /// Only the pairings naming one of these objects (either side's name, any case, e.g.
    /// `Account`, `CUSTOMER`, `contact`); empty: all of them.
    pub objects: Vec<String>,
    /// Write the owners' values where a pair disagrees.
    pub repair: bool,
    /// Links read (and pairs checked) per page.
    pub page_size: usize,
}

impl Default for DriftOptions {
    fn default() -> Self {
        Self {
            objects: Vec::new(),
            repair: false,
            page_size: 200,
        }
    }
}

/// One field that differs, as the owner's value would be written to the other side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftField {
    /// The side whose record holds the stale value.
    pub target: System,
    /// The field on that side (a dotted path for nested Intacct fields).
    pub field: String,
    /// What the target has now.
    pub current: Value,
    /// What the owner's record maps to.
    pub owner_value: Value,
    /// The side that owns the field for this pair.
    pub owner: System,
    /// Why that side owns it.
    pub why: String,
}

/// A linked pair that disagrees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftedPair {
    pub salesforce: RecordRef,
    pub intacct: RecordRef,
    pub fields: Vec<DriftField>,
    /// when the repair failed; `None` without `repair`.
    pub repair: Repair,
}

/// What became of a drifted pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Repair {
    /// The check only reported.
    NotAsked,
    /// The owner's values were written.
    Repaired,
    /// The repair was tried and failed, with the reason.
    Failed(String),
}

/// What a drift check found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Linked pairs read on both sides and compared.
    pub checked: u64,
    /// Of those, the pairs that agree.
    pub agreeing: u64,
    pub drifted: Vec<DriftedPair>,
    /// Links whose record is gone (deleted or not visible) on one side, with which.
    pub dangling: Vec<RecordRef>,
    /// Pairs that could not be checked, and why (a failed read, an unmappable record).
    pub unchecked: Vec<(RecordRef, String)>,
}

impl DriftReport {
    /// Pairs repaired.
    pub fn repaired(&self) -> usize {
        self.drifted
            .iter()
            .filter(|d| matches!(d.repair, Repair::Repaired))
            .count()
    }

    /// Pairs whose repair failed.
    pub fn repair_failures(&self) -> usize {
        self.drifted
            .iter()
            .filter(|d| matches!(d.repair, Repair::Failed(_)))
            .count()
    }

    /// Whether everything checked agrees (or was repaired) and nothing was left unchecked.
    pub fn clean(&self) -> bool {
        self.unchecked.is_empty()
            && self
                .drifted
                .iter()
                .all(|d| matches!(d.repair, Repair::Repaired))
    }

    /// The report as text: a summary line, then each drifted pair and its fields.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} linked pair(s) checked: {} agree, {} drifted{}, {} dangling, {} unchecked",
            self.checked,
            self.agreeing,
            self.drifted.len(),
            if self.drifted.iter().any(|d| d.repair != Repair::NotAsked) {
                format!(
                    " ({} repaired, {} repair failed)",
                    self.repaired(),
                    self.repair_failures()
                )
            } else {
                String::new()
            },
            self.dangling.len(),
            self.unchecked.len()
        );
        for d in &self.drifted {
            let _ = writeln!(out, "{} ⇄ {}", d.salesforce, d.intacct);
            for f in &d.fields {
                let _ = writeln!(
                    out,
                    "  {} {}: {} ≠ {} (owner {}: {})",
                    system_name(f.target),
                    f.field,
                    f.current,
                    f.owner_value,
                    system_name(f.owner),
                    f.why
                );
            }
            match &d.repair {
                Repair::Repaired => {
                    let _ = writeln!(out, "  repaired: the owner's values written");
                }
                Repair::Failed(reason) => {
                    let _ = writeln!(out, "  repair FAILED: {reason}");
                }
                Repair::NotAsked => {}
            }
        }
        for r in &self.dangling {
            let _ = writeln!(out, "dangling link: {r} is deleted or not visible");
        }
        for (r, why) in &self.unchecked {
            let _ = writeln!(out, "not checked: {r}: {why}");
        }
        out
    }
}

fn system_name(s: System) -> &'static str {
    match s {
        System::Salesforce => "Salesforce",
        System::Intacct => "Intacct",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(repair: Repair) -> DriftedPair {
        DriftedPair {
            salesforce: RecordRef {
                system: System::Salesforce,
                object: "Account".into(),
                id: "001000000000001AAA".into(),
            },
            intacct: RecordRef {
                system: System::Intacct,
                object: "CUSTOMER".into(),
                id: "C-1".into(),
            },
            fields: vec![DriftField {
                target: System::Intacct,
                field: "NAME".into(),
                current: Value::from("Acme (by hand)"),
                owner_value: Value::from("Acme"),
                owner: System::Salesforce,
                why: "ownership: Salesforce is its system of record".into(),
            }],
            repair,
        }
    }

    #[test]
    fn a_report_reads_back_as_written_whatever_became_of_each_pair() {
        let report = DriftReport {
            checked: 4,
            agreeing: 1,
            drifted: vec![
                pair(Repair::NotAsked),
                pair(Repair::Repaired),
                pair(Repair::Failed("UNABLE_TO_LOCK_ROW".into())),
            ],
            dangling: Vec::new(),
            unchecked: Vec::new(),
        };
        let text = serde_json::to_string(&report).unwrap();
        let back: DriftReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back, report);
        assert_eq!((back.repaired(), back.repair_failures()), (1, 1));
        assert!(!back.clean());
    }

    #[test]
    fn the_text_names_each_field_its_values_and_owner() {
        let report = DriftReport {
            checked: 1,
            drifted: vec![pair(Repair::Failed("locked".into()))],
            ..DriftReport::default()
        };
        let text = report.render();
        assert!(
            text.starts_with(
                "1 linked pair(s) checked: 0 agree, 1 drifted (0 repaired, 1 repair failed)"
            ),
            "{text}"
        );
        assert!(
            text.contains("Intacct NAME: \"Acme (by hand)\" ≠ \"Acme\" (owner Salesforce"),
            "{text}"
        );
        assert!(text.contains("repair FAILED: locked"), "{text}");
    }
}
