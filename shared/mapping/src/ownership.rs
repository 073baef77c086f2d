//! Field ownership in the bi-directional sync: per field, the system of record wins a
//! conflict; fields owned by `last_modified` go to the side changed last.

use chrono::{DateTime, Utc};
use lf_domain::System;

pub use crate::spec::Owner;

/// Which side's value a field keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Winner {
    /// Write the mapped source value to the target.
    Source,
    /// Keep the target's value (do not write the field).
    Target,
}

/// Decides one field. `source` is the system the change comes from. With `last_modified`, the
/// later modification time wins; when a time is unknown the incoming change wins (it is the
/// newest thing we know of), and a tie goes to the source too (same instant: nothing to keep).
pub fn decide(
    owner: Owner,
    source: System,
    source_modified: Option<DateTime<Utc>>,
    target_modified: Option<DateTime<Utc>>,
) -> Winner {
    let owner_system = match owner {
        Owner::Salesforce => Some(System::Salesforce),
        Owner::Intacct => Some(System::Intacct),
        Owner::LastModified => None,
    };
    match owner_system {
        Some(s) if s == source => Winner::Source,
        Some(_) => Winner::Target,
        None => match (source_modified, target_modified) {
            (Some(s), Some(t)) if t > s => Winner::Target,
            _ => Winner::Source,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(s).unwrap().to_utc())
    }

    #[test]
    fn system_of_record_wins_regardless_of_time() {
        let (old, new) = (t("2026-01-01T00:00:00Z"), t("2026-02-01T00:00:00Z"));
        assert_eq!(
            decide(Owner::Salesforce, System::Salesforce, old, new),
            Winner::Source
        );
        assert_eq!(
            decide(Owner::Salesforce, System::Intacct, new, old),
            Winner::Target
        );
        assert_eq!(
            decide(Owner::Intacct, System::Intacct, old, new),
            Winner::Source
        );
        assert_eq!(
            decide(Owner::Intacct, System::Salesforce, new, old),
            Winner::Target
        );
    }

    #[test]
    fn last_modified_wins_otherwise() {
        let (old, new) = (t("2026-01-01T00:00:00Z"), t("2026-02-01T00:00:00Z"));
        assert_eq!(
            decide(Owner::LastModified, System::Salesforce, new, old),
            Winner::Source
        );
        assert_eq!(
            decide(Owner::LastModified, System::Salesforce, old, new),
            Winner::Target
        );
        assert_eq!(
            decide(Owner::LastModified, System::Intacct, new, new),
            Winner::Source
        );
        assert_eq!(
            decide(Owner::LastModified, System::Intacct, None, new),
            Winner::Source
        );
    }
}
