//! Item keys: how a link, a record, a stream or an audit entry is named in its table. Every key
//! is built here so each table's layout can be read in one place.
//!
//! Components are joined with `#` (and a record's parts with `/`); a component that could
//! contain either is escaped (`%` → `%25`, `#` → `%23`, `/` → `%2F`), so two different values
//! never share a key.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Utc};
use lf_domain::port::{LinkKind, Watermark};
use lf_domain::{Flow, IntacctKey, PortError, RecordRef, SalesforceId};
use uuid::Uuid;

fn escape(component: &str) -> Cow<'_, str> {
    if component.contains(['%', '#', '/']) {
        Cow::Owned(
            component
                .replace('%', "%25")
                .replace('#', "%23")
                .replace('/', "%2F"),
        )
    } else {
        Cow::Borrowed(component)
    }
}

/// The Salesforce side of a link: `SF#<kind>#<18-character id>`. The 18-character form makes
/// the 15- and 18-character spellings of one id the same key.
pub(crate) fn xref_salesforce(kind: LinkKind, id: &SalesforceId) -> String {
    format!("{}{}", xref_salesforce_prefix(kind), id.as_str())
}

/// What every Salesforce-side link item of `kind` is named with.
pub(crate) fn xref_salesforce_prefix(kind: LinkKind) -> String {
    format!("SF#{}#", kind.as_str())
}

/// The Intacct side of a link: `IA#<kind>#<key>`. The key is company-unique, so the entity the
/// record lives in is an attribute of the item, not part of its name.
pub(crate) fn xref_intacct(kind: LinkKind, key: &IntacctKey) -> String {
    format!("IA#{}#{}", kind.as_str(), escape(key.as_str()))
}

/// A record: `salesforce/Account/001…`, the record's display form with its object name escaped
/// (the id is last, so it needs no escaping).
pub(crate) fn record(record: &RecordRef) -> String {
    format!("{}/{}/{}", record.system, escape(&record.object), record.id)
}

/// The item holding a stream's watermark.
pub(crate) fn watermark(stream: &str) -> String {
    format!("WM#{stream}")
}

/// The item holding the fingerprint `flow` last wrote to a record: `FP#<flow>#<record>` (flow
/// names are kebab-case, so the record, last, needs nothing more).
pub(crate) fn fingerprint(of: &RecordRef, flow: Flow) -> String {
    format!("FP#{flow}#{}", record(of))
}

/// The item of one slot of a limiter: `<name>#<slot>`.
pub(crate) fn lease(name: &str, slot: u32) -> String {
    format!("{}#{slot}", escape(name))
}

/// A fixed-width UTC time with nanoseconds, so string order is time order.
fn sortable_time(at: DateTime<Utc>) -> Result<String, PortError> {
    if !(0..=9999).contains(&at.year()) {
        return Err(PortError::invalid(format!(
            "time {at} is outside the years 0000-9999 that sortable keys can hold"
        )));
    }
    Ok(at.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string())
}

/// A watermark as a string whose byte order is the watermark's order: the fixed-width time,
/// then the id. DynamoDB compares strings by their UTF-8 bytes, like Rust's `String`, so a
/// condition `position < :new` means `stored < new`.
pub(crate) fn watermark_position(mark: &Watermark) -> Result<String, PortError> {
    Ok(format!(
        "{}#{}",
        sortable_time(mark.modified_at)?,
        mark.last_id
    ))
}

/// An audit entry's sort key: its time, then a random id, so entries with the same time never
/// overwrite each other and still sort by time.
pub(crate) fn audit_entry(at: DateTime<Utc>, unique: Uuid) -> Result<String, PortError> {
    Ok(format!("{}#{}", sortable_time(at)?, unique.as_hyphenated()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use lf_domain::System;
    use proptest::prelude::*;

    fn ia(key: &str) -> IntacctKey {
        IntacctKey::parse(key).unwrap()
    }

    #[test]
    fn xref_keys_read_naturally() {
        let id = SalesforceId::parse("001000000000001").unwrap();
        assert_eq!(
            xref_salesforce(LinkKind::AccountCustomer, &id),
            "SF#account-customer#001000000000001AAA"
        );
        assert_eq!(
            xref_intacct(LinkKind::OpportunityInvoice, &ia("4711")),
            "IA#opportunity-invoice#4711"
        );
        let account = RecordRef {
            system: System::Salesforce,
            object: "Account".into(),
            id: "001".into(),
        };
        assert_eq!(
            fingerprint(&account, Flow::CreditAlerts),
            "FP#credit-alerts#salesforce/Account/001"
        );
        assert_eq!(lease("intacct", 1), "intacct#1");
    }

    #[test]
    fn intacct_keys_cannot_collide() {
        let k = LinkKind::AccountCustomer;
        let keys = [
            xref_intacct(k, &ia("A")),
            xref_intacct(k, &ia("A#B")),
            xref_intacct(k, &ia("A%23B")),
            xref_intacct(k, &ia("A/B")),
            xref_intacct(LinkKind::ContactContact, &ia("A")),
            lease("a#1", 2),
            lease("a", 12),
        ];
        let distinct: std::collections::BTreeSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len(), "{keys:?}");
    }

    #[test]
    fn record_keys_keep_systems_apart() {
        let a = RecordRef {
            system: System::Salesforce,
            object: "Account".into(),
            id: "001".into(),
        };
        let b = RecordRef {
            system: System::Intacct,
            ..a.clone()
        };
        assert_eq!(record(&a), "salesforce/Account/001");
        assert_ne!(record(&a), record(&b));
        let odd = RecordRef {
            system: System::Intacct,
            object: "A/B".into(),
            id: "C".into(),
        };
        let other = RecordRef {
            system: System::Intacct,
            object: "A".into(),
            id: "B/C".into(),
        };
        assert_ne!(record(&odd), record(&other));
    }

    #[test]
    fn times_outside_four_digit_years_are_refused() {
        let far = Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap();
        assert!(matches!(
            audit_entry(far, Uuid::nil()),
            Err(PortError::Invalid { .. })
        ));
    }

    fn any_watermark() -> impl Strategy<Value = Watermark> {
        // Few distinct times, so equal times (where the id decides) come up often.
        let secs = prop_oneof![
            Just(0i64),
            Just(1),
            Just(1_772_355_600),
            0i64..253_402_300_799
        ];
        let nanos = prop_oneof![Just(0u32), Just(999_999_999), 0u32..1_000_000_000];
        (secs, nanos, "[ -~]{0,4}").prop_map(|(secs, nanos, id)| Watermark {
            modified_at: DateTime::from_timestamp(secs, nanos).unwrap(),
            last_id: id,
        })
    }

    proptest! {
        #[test]
        fn position_order_is_watermark_order(a in any_watermark(), b in any_watermark()) {
            let pa = watermark_position(&a).unwrap();
            let pb = watermark_position(&b).unwrap();
            prop_assert_eq!(pa.cmp(&pb), a.cmp(&b), "{} vs {}", pa, pb);
        }

        #[test]
        fn audit_keys_sort_by_time(a in 0i64..300_000_000_000, b in 0i64..300_000_000_000) {
            let ta = DateTime::from_timestamp_millis(a).unwrap();
            let tb = DateTime::from_timestamp_millis(b).unwrap();
            let ka = audit_entry(ta, Uuid::new_v4()).unwrap();
            let kb = audit_entry(tb, Uuid::new_v4()).unwrap();
            if ta != tb {
                prop_assert_eq!(ka.cmp(&kb), ta.cmp(&tb));
            }
        }
    }
}
