//! Dates as the gateway writes and reads them.
//!
//! Legacy functions (`create_invoice`, `create_sotransaction`, `create_arpayment`) take
//! `<year>/<month>/<day>` elements; generic objects take `MM/DD/YYYY`; read results give
//! `MM/DD/YYYY` and `MM/DD/YYYY HH:MM:SS`, and some clients see RFC 3339 (protocols.md B6).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::xml::XmlElement;

/// `MM/DD/YYYY`, the generic-object date format.
pub fn format_date(date: NaiveDate) -> String {
    date.format("%m/%d/%Y").to_string()
}

/// `MM/DD/YYYY HH:MM:SS`, the literal format of datetimes in `readByQuery` queries and filters.
pub fn format_datetime(at: DateTime<Utc>) -> String {
    at.format("%m/%d/%Y %H:%M:%S").to_string()
}

/// A legacy date element: `<name><year>2015</year><month>06</month><day>30</day></name>`.
pub fn legacy_date(name: &str, date: NaiveDate) -> XmlElement {
    XmlElement::new(name)
        .child(XmlElement::with_text("year", date.format("%Y").to_string()))
        .child(XmlElement::with_text(
            "month",
            date.format("%m").to_string(),
        ))
        .child(XmlElement::with_text("day", date.format("%d").to_string()))
}

/// Reads a date from a result: `MM/DD/YYYY`, `YYYY-MM-DD`, or the date part of a datetime.
pub fn parse_date(value: &str) -> Option<NaiveDate> {
    let v = value.trim();
    NaiveDate::parse_from_str(v, "%m/%d/%Y")
        .or_else(|_| NaiveDate::parse_from_str(v, "%Y-%m-%d"))
        .ok()
        .or_else(|| parse_datetime(v).map(|d| d.date_naive()))
}

/// Reads a datetime from a result: `MM/DD/YYYY HH:MM:SS` (taken as UTC: the gateway gives no
/// offset), RFC 3339 with an offset, or a bare date (midnight UTC).
pub fn parse_datetime(value: &str) -> Option<DateTime<Utc>> {
    let v = value.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(v) {
        return Some(d.with_timezone(&Utc));
    }
    for f in [
        "%m/%d/%Y %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(v, f) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(v, "%m/%d/%Y")
        .or_else(|_| NaiveDate::parse_from_str(v, "%Y-%m-%d"))
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn writes_both_date_styles() {
        let d = NaiveDate::from_ymd_opt(2015, 6, 3).unwrap();
        assert_eq!(format_date(d), "06/03/2015");
        assert_eq!(
            legacy_date("datecreated", d).to_xml().unwrap(),
            "<datecreated><year>2015</year><month>06</month><day>03</day></datecreated>"
        );
        let at = Utc.with_ymd_and_hms(2024, 12, 31, 23, 59, 1).unwrap();
        assert_eq!(format_datetime(at), "12/31/2024 23:59:01");
    }

    #[test]
    fn reads_every_result_style() {
        let d = NaiveDate::from_ymd_opt(2019, 5, 15).unwrap();
        assert_eq!(parse_date("05/15/2019"), Some(d));
        assert_eq!(parse_date("2019-05-15"), Some(d));
        assert_eq!(parse_date("05/15/2019 10:00:00"), Some(d));
        assert_eq!(parse_date("15/05/2019"), None);
        let at = Utc.with_ymd_and_hms(2015, 10, 23, 3, 58, 27).unwrap();
        assert_eq!(parse_datetime("2015-10-22T20:58:27-07:00"), Some(at));
        assert_eq!(parse_datetime("10/23/2015 03:58:27"), Some(at));
        assert_eq!(parse_datetime("nonsense"), None);
    }
}
