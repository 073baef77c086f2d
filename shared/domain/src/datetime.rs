//! Dates and datetimes as Salesforce and Sage Intacct write them: one reader that accepts
//! every form either platform sends, and one writer per platform format. Connectors and
//! mapping transforms both use these, so a value read on one side and written on the other
//! goes through the same code.
//!
//! | platform | dates | datetimes |
//! |---|---|---|
//! | Salesforce | `2026-03-01` | `2026-03-01T09:00:00.000+0000` (REST output: no colon in the offset), `…Z` / `…+00:00` (input, SOAP) |
//! | Intacct | `03/01/2026` (generic objects), `<year>2026</year><month>03</month><day>01</day>` (legacy functions) | `03/01/2026 09:00:00`, company-local wall clock with no offset; RFC 3339 from some clients |
//!
//! A form without an offset is a wall-clock time: [`parse_datetime_in`] places it at the
//! offset the caller knows (the company's); [`parse_datetime`] places it at UTC, which is what
//! a caller with no company offset configured gets.

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc,
};

/// UTC as a fixed offset: where [`parse_datetime`] places wall-clock forms.
pub const UTC: FixedOffset = match FixedOffset::east_opt(0) {
    Some(utc) => utc,
    None => unreachable!(),
};

const DATE_FORMS: &str = "a date (YYYY-MM-DD, MM/DD/YYYY, or a datetime)";
const DATETIME_FORMS: &str = "a datetime (ISO 8601 with Z or an offset such as +0000 or +00:00, \
     YYYY-MM-DDTHH:MM:SS, YYYY-MM-DD HH:MM:SS, MM/DD/YYYY HH:MM:SS, or a date)";
/// How much of a refused value an error quotes: enough to recognise it, never a whole payload.
const QUOTED_CHARS: usize = 64;

/// A value that is not a date or datetime in any form either platform writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not {expected}")]
pub struct DateTimeError {
    value: String,
    expected: &'static str,
}

impl DateTimeError {
    fn new(value: &str, expected: &'static str) -> Self {
        Self {
            value: value.chars().take(QUOTED_CHARS).collect(),
            expected,
        }
    }
}

/// Reads a date in any form: `2026-03-01`, `03/01/2026`, or the date part of a datetime as
/// written (its own offset's calendar day, not converted to UTC). Surrounding whitespace is
/// ignored.
pub fn parse_date(text: &str) -> Result<NaiveDate, DateTimeError> {
    let t = text.trim();
    iso_date(t)
        .or_else(|| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
        .or_else(|| NaiveDate::parse_from_str(t, "%m/%d/%Y").ok())
        .or_else(|| parse_datetime_in(t, UTC).ok().map(|d| d.date_naive()))
        .ok_or_else(|| DateTimeError::new(text, DATE_FORMS))
}

/// `YYYY-MM-DD` exactly, read without chrono's format parser, which gives the same date for
/// it; anything else, or an impossible date, is `None` and goes the general way. Mappings
/// read this form for every Salesforce date, so it is worth the shortcut.
fn iso_date(t: &str) -> Option<NaiveDate> {
    let b = t.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)
}

/// Reads a datetime in any form, placing forms without an offset at UTC. See
/// [`parse_datetime_in`].
pub fn parse_datetime(text: &str) -> Result<DateTime<FixedOffset>, DateTimeError> {
    parse_datetime_in(text, UTC)
}

/// Reads a datetime in any form either platform writes, keeping the offset it carries:
/// RFC 3339 (`Z`, `+00:00`), Salesforce's `+0000`, with or without fractional seconds. A
/// form without an offset (Intacct's `03/01/2026 09:00:00`, ISO `2026-03-01T09:00:00` or
/// `2026-03-01 09:00:00`) is a wall-clock time at `local`; a bare date is midnight at `local`.
pub fn parse_datetime_in(
    text: &str,
    local: FixedOffset,
) -> Result<DateTime<FixedOffset>, DateTimeError> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d);
    }
    if let Ok(d) = DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Ok(d);
    }
    let wall = [
        "%m/%d/%Y %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .or_else(|| {
        iso_date(t)
            .or_else(|| NaiveDate::parse_from_str(t, "%m/%d/%Y").ok())
            .map(|d| d.and_time(chrono::NaiveTime::MIN))
    });
    wall.and_then(|w| local.from_local_datetime(&w).single())
        .ok_or_else(|| DateTimeError::new(text, DATETIME_FORMS))
}

/// `2026-03-01`: a Salesforce date (and the ISO date).
pub fn format_salesforce_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// `2026-03-01T09:00:00.000+0000`: a datetime as Salesforce's REST API writes it, in UTC with
/// milliseconds, so a value we write compares equal to the one Salesforce gives back.
pub fn format_salesforce_datetime(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// `2026-03-01T09:00:00Z`: RFC 3339 in UTC to the second, the form SOQL datetime literals
/// take. Sub-second precision is dropped, so a watermark query `> t` may see a record of the
/// same second again, never miss one.
pub fn format_rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Like [`format_rfc3339`], but keeps milliseconds when `at` has any, so a literal compares
/// equal to the stamp it came from (SOQL `=` and `>` on a sub-second value).
pub fn format_rfc3339_exact(at: DateTime<Utc>) -> String {
    if at.timestamp_subsec_millis() == 0 {
        format_rfc3339(at)
    } else {
        at.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

/// `03/01/2026`: an Intacct generic-object date.
pub fn format_intacct_date(date: NaiveDate) -> String {
    date.format("%m/%d/%Y").to_string()
}

/// `03/01/2026 09:00:00`: the wall-clock time of `at` in its own zone, as Intacct writes
/// datetimes and takes them in query literals. Intacct datetimes carry no offset, so convert
/// `at` to the company's offset first when it is not UTC.
pub fn format_intacct_datetime<Tz: TimeZone>(at: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    at.format("%m/%d/%Y %H:%M:%S").to_string()
}

/// The parts of Intacct's legacy date element (`<year>2026</year><month>03</month>
/// <day>01</day>`) in element order, month and day zero-padded as the SDKs write them.
pub fn legacy_date_parts(date: NaiveDate) -> [(&'static str, String); 3] {
    [
        ("year", date.year().to_string()),
        ("month", two_digits(date.month())),
        ("day", two_digits(date.day())),
    ]
}

/// The date a legacy `year`/`month`/`day` triple names; `None` when it names no date.
pub fn legacy_date_from_parts(year: i64, month: i64, day: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(
        i32::try_from(year).ok()?,
        u32::try_from(month).ok()?,
        u32::try_from(day).ok()?,
    )
}

/// Two digits, zero-padded (`format!("{:02}")` of a month or a day, without the formatter).
fn two_digits(n: u32) -> String {
    let mut s = String::with_capacity(2);
    s.push(char::from(b'0' + (n / 10 % 10) as u8));
    s.push(char::from(b'0' + (n % 10) as u8));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn reads_dates_of_both_platforms() {
        let d = ymd(2019, 5, 15);
        assert_eq!(parse_date("2019-05-15"), Ok(d));
        assert_eq!(parse_date(" 05/15/2019 "), Ok(d));
        assert_eq!(parse_date("05/15/2019 10:00:00"), Ok(d));
        assert_eq!(parse_date("2019-05-15T23:30:00.000+0000"), Ok(d));
        // The calendar day as written, not the UTC day.
        assert_eq!(parse_date("2019-05-15T23:30:00-08:00"), Ok(d));
        for bad in [
            "15/05/2019",
            "2019-02-30",
            "",
            "May 15",
            "2019-05-15T25:00:00Z",
        ] {
            let err = parse_date(bad).unwrap_err();
            assert!(err.to_string().contains("is not a date"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn reads_datetimes_of_both_platforms() {
        let at = utc("2026-03-01T09:00:00Z");
        for text in [
            "2026-03-01T09:00:00.000+0000",
            "2026-03-01T09:00:00+0000",
            "2026-03-01T09:00:00.000Z",
            "2026-03-01T09:00:00Z",
            "2026-03-01T10:00:00+01:00",
            "2026-03-01T01:00:00.000-0800",
            "03/01/2026 09:00:00",
            "2026-03-01T09:00:00",
            "2026-03-01 09:00:00",
            " 2026-03-01T09:00:00.000+0000\n",
        ] {
            assert_eq!(parse_datetime(text).map(|d| d.to_utc()), Ok(at), "{text:?}");
        }
        assert_eq!(
            parse_datetime("2026-03-01T10:00:00+01:00")
                .unwrap()
                .offset(),
            &FixedOffset::east_opt(3600).unwrap(),
            "the offset written is kept"
        );
        assert_eq!(
            parse_datetime("2026-03-01").map(|d| d.to_utc()),
            Ok(utc("2026-03-01T00:00:00Z"))
        );
        let millis = parse_datetime("2026-03-01T09:00:00.123+0000").unwrap();
        assert_eq!(millis.timestamp_subsec_millis(), 123);
        for bad in [
            "nonsense",
            "2026-03-01T09:00",
            "13/01/2026 09:00:00",
            "2026-03-01T09:00:00+25:00",
        ] {
            let err = parse_datetime(bad).unwrap_err();
            assert!(
                err.to_string().contains("is not a datetime"),
                "{bad:?}: {err}"
            );
        }
        let long = "x".repeat(10_000);
        assert!(parse_datetime(&long).unwrap_err().to_string().len() < 300);
    }

    #[test]
    fn wall_clock_forms_are_placed_at_the_given_offset() {
        let pacific = FixedOffset::west_opt(8 * 3600).unwrap();
        let at = parse_datetime_in("03/01/2026 09:00:00", pacific).unwrap();
        assert_eq!(at.to_utc(), utc("2026-03-01T17:00:00Z"));
        // A form with an offset keeps its own.
        let own = parse_datetime_in("2026-03-01T09:00:00Z", pacific).unwrap();
        assert_eq!(own.to_utc(), utc("2026-03-01T09:00:00Z"));
        assert_eq!(format_intacct_datetime(&at), "03/01/2026 09:00:00");
        assert_eq!(format_intacct_datetime(&at.to_utc()), "03/01/2026 17:00:00");
    }

    #[test]
    fn writes_each_platform_format() {
        let d = ymd(2015, 6, 3);
        assert_eq!(format_salesforce_date(d), "2015-06-03");
        assert_eq!(format_intacct_date(d), "06/03/2015");
        assert_eq!(
            legacy_date_parts(d),
            [
                ("year", "2015".to_owned()),
                ("month", "06".to_owned()),
                ("day", "03".to_owned())
            ]
        );
        assert_eq!(legacy_date_from_parts(2015, 6, 3), Some(d));
        assert_eq!(legacy_date_from_parts(2015, 2, 30), None);
        assert_eq!(legacy_date_from_parts(2015, -1, 3), None);
        let at = utc("2024-12-31T23:59:01.5Z");
        assert_eq!(
            format_salesforce_datetime(at),
            "2024-12-31T23:59:01.500+0000"
        );
        assert_eq!(format_rfc3339(at), "2024-12-31T23:59:01Z");
        assert_eq!(format_intacct_datetime(&at), "12/31/2024 23:59:01");
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        // 1900 to 2173: every date either platform holds, leap days and centuries included.
        (0i64..100_000).prop_map(|days| ymd(1900, 1, 1) + Duration::days(days))
    }

    fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
        (any_date(), 0i64..86_400, 0i64..1000).prop_map(|(d, s, ms)| {
            d.and_time(chrono::NaiveTime::MIN).and_utc()
                + Duration::seconds(s)
                + Duration::milliseconds(ms)
        })
    }

    proptest! {
        #[test]
        fn dates_round_trip_through_every_format(d in any_date()) {
            prop_assert_eq!(parse_date(&format_salesforce_date(d)), Ok(d));
            prop_assert_eq!(parse_date(&format_intacct_date(d)), Ok(d));
            let parts = legacy_date_parts(d);
            let n = |i: usize| parts[i].1.parse::<i64>().unwrap();
            prop_assert_eq!(legacy_date_from_parts(n(0), n(1), n(2)), Some(d));
            prop_assert_eq!(parts[1].1.len(), 2);
            prop_assert_eq!(parts[2].1.len(), 2);
        }

        #[test]
        fn datetimes_round_trip_through_every_format(at in any_instant()) {
            // Salesforce keeps milliseconds; the second-precision forms drop them.
            prop_assert_eq!(parse_datetime(&format_salesforce_datetime(at)).map(|d| d.to_utc()), Ok(at));
            let seconds = at - Duration::milliseconds(i64::from(at.timestamp_subsec_millis()));
            prop_assert_eq!(parse_datetime(&format_rfc3339(at)).map(|d| d.to_utc()), Ok(seconds));
            prop_assert_eq!(parse_datetime(&format_intacct_datetime(&at)).map(|d| d.to_utc()), Ok(seconds));
            // Through a company offset and back.
            let company = FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
            let local = format_intacct_datetime(&at.with_timezone(&company));
            prop_assert_eq!(parse_datetime_in(&local, company).map(|d| d.to_utc()), Ok(seconds));
        }

        #[test]
        fn iso_dates_read_as_chrono_reads_them(
            t in "[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9-]{8,11}|[0-9]{4}-[0-9]-[0-9]{2}|.{0,12}",
        ) {
            // The shortcut answers only for what chrono reads; the rest goes the general way.
            if let Some(d) = iso_date(&t) {
                prop_assert_eq!(Some(d), NaiveDate::parse_from_str(&t, "%Y-%m-%d").ok());
            }
        }

        #[test]
        fn legacy_parts_are_the_padded_numbers(days in -800_000i64..800_000) {
            let d = ymd(2000, 1, 1) + Duration::days(days);
            let parts = legacy_date_parts(d);
            prop_assert_eq!(&parts[0].1, &d.year().to_string());
            prop_assert_eq!(&parts[1].1, &format!("{:02}", d.month()));
            prop_assert_eq!(&parts[2].1, &format!("{:02}", d.day()));
        }
    }
}
