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
use serde::Serialize;
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftedPair {
    pub salesforce: RecordRef,
    pub intacct: RecordRef,
    pub fields: Vec<DriftField>,
    /// With `repair`: `Some(None)` when the owner's values were written, `Some(Some(reason))`
    /// when the repair failed; `None` without `repair`.
    pub repair: Option<Option<String>>,
}

/// What a drift check found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
            .filter(|d| matches!(d.repair, Some(None)))
            .count()
    }

    /// Pairs whose repair failed.
    pub fn repair_failures(&self) -> usize {
        self.drifted
            .iter()
            .filter(|d| matches!(d.repair, Some(Some(_))))
            .count()
    }

    /// Whether everything checked agrees (or was repaired) and nothing was left unchecked.
    pub fn clean(&self) -> bool {
        self.unchecked.is_empty() && self.drifted.iter().all(|d| matches!(d.repair, Some(None)))
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
            if self.drifted.iter().any(|d| d.repair.is_some()) {
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
                Some(None) => {
                    let _ = writeln!(out, "  repaired: the owner's values written");
                }
                Some(Some(reason)) => {
                    let _ = writeln!(out, "  repair FAILED: {reason}");
                }
                None => {}
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
