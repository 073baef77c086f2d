//! `sobjects/{type}/updated` and `sobjects/{type}/deleted`: the data replication resources
//! (getUpdated / getDeleted) that pollers and simple-salesforce's `updated()` / `deleted()`
//! use.
//!
//! The rules are the documented ones: both bounds are read as UTC and cut to the minute (the
//! API ignores seconds), `start` must come before `end`, and no `start` older than 30 days
//! before the call is accepted. A record counts as updated when its `SystemModstamp` falls in
//! `[start, end)`, and as deleted when its deletion time does; deleted records are not in the
//! updated list.

use chrono::{DateTime, Duration, DurationRound, NaiveDate, Utc};
use serde_json::{Value, json};

use super::{ApiRequest, ApiResponse, Call};
use crate::schema::ObjectDef;
use crate::store::is_deleted;
use crate::value::{format_datetime, parse_datetime};

/// How far back the resources look.
const WINDOW_DAYS: i64 = 30;
/// The most ids one call returns; past it the call fails with `EXCEEDED_ID_LIMIT`.
const MAX_IDS: usize = 600_000;

/// Which of the two resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replication {
    Updated,
    Deleted,
}

pub(crate) fn get(
    call: &Call<'_>,
    req: &ApiRequest,
    object: &ObjectDef,
    which: Replication,
) -> ApiResponse {
    let now = call.world.store.now();
    let (start, end) = match window(req, now) {
        Ok(w) => w,
        Err(resp) => return resp,
    };
    let stamp = |r: &serde_json::Map<String, Value>| {
        r.get("SystemModstamp")
            .and_then(Value::as_str)
            .and_then(parse_datetime)
    };
    let in_window = |t: DateTime<Utc>| t >= start && t < end;
    let rows = call.world.store.rows(object.name);
    let latest = format_datetime(end.min(to_minute(now)));
    let body = match which {
        Replication::Updated => {
            let ids: Vec<Value> = rows
                .filter(|r| !is_deleted(r))
                .filter(|r| stamp(r).is_some_and(in_window))
                .filter_map(|r| r.get("Id").cloned())
                .collect();
            if ids.len() > MAX_IDS {
                return exceeded();
            }
            json!({"ids": ids, "latestDateCovered": latest})
        }
        Replication::Deleted => {
            // A deletion stamps SystemModstamp; nothing changes a deleted record after that.
            let deleted: Vec<Value> = rows
                .filter(|r| is_deleted(r))
                .filter_map(|r| {
                    let at = stamp(r).filter(|t| in_window(*t))?;
                    Some(json!({"id": r.get("Id")?, "deletedDate": format_datetime(at)}))
                })
                .collect();
            if deleted.len() > MAX_IDS {
                return exceeded();
            }
            json!({
                "deletedRecords": deleted,
                "earliestDateAvailable": format_datetime(to_minute(call.world.store.earliest_deletion_kept())),
                "latestDateCovered": latest,
            })
        }
    };
    ApiResponse::json(200, body)
}

fn exceeded() -> ApiResponse {
    ApiResponse::error(
        400,
        "EXCEEDED_ID_LIMIT",
        "record limit reached. cannot submit more than 600000 records in one call",
    )
}

fn to_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::minutes(1)).unwrap_or(t)
}

/// Reads and checks `start` and `end`.
fn window(
    req: &ApiRequest,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiResponse> {
    let bound = |name: &str| -> Result<DateTime<Utc>, ApiResponse> {
        let raw = req.param(name).ok_or_else(|| {
            ApiResponse::error(
                400,
                "MISSING_ARGUMENT",
                &format!("{name} parameter is required"),
            )
        })?;
        parse_bound(raw).map(to_minute).ok_or_else(|| {
            ApiResponse::error(
                400,
                "INVALID_REPLICATION_DATE",
                &format!(
                    "{name} is not a valid ISO 8601 date-time (expected e.g. 2026-01-31T12:30:00+00:00): {raw}"
                ),
            )
        })
    };
    let start = bound("start")?;
    let end = bound("end")?;
    if start >= end {
        return Err(ApiResponse::error(
            400,
            "INVALID_REPLICATION_DATE",
            "startDate must chronologically precede endDate",
        ));
    }
    if start < to_minute(now) - Duration::days(WINDOW_DAYS) {
        return Err(ApiResponse::error(
            400,
            "INVALID_REPLICATION_DATE",
            "startDate cannot be more than 30 days ago",
        ));
    }
    Ok((start, end))
}

/// The forms clients send: `2026-01-31T12:30:00+00:00` (the documented one, what
/// simple-salesforce sends), `...Z` with milliseconds (jsforce's `toISOString()`), `+0000`, and
/// no offset at all (read as UTC, as the documentation says the value is). A `+` that an
/// unencoded query string turned into a space is read back as `+`.
fn parse_bound(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    let repaired;
    let text = match raw.rfind(' ') {
        Some(i) if i > 10 => {
            repaired = format!("{}+{}", &raw[..i], &raw[i + 1..]);
            repaired.as_str()
        }
        _ => raw,
    };
    if let Some(t) = parse_datetime(text) {
        return Some(t);
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        parse_datetime(s).unwrap()
    }

    #[test]
    fn bounds_in_every_common_form() {
        let want = at("2026-11-20T12:30:00Z");
        for raw in [
            "2026-11-20T12:30:00+00:00",
            "2026-11-20T12:30:00.000Z",
            "2026-11-20T12:30:00+0000",
            "2026-11-20T12:30:00 00:00",
            "2026-11-20T12:30:00",
            "2026-11-20T13:30:00+01:00",
        ] {
            assert_eq!(parse_bound(raw), Some(want), "{raw}");
        }
        assert_eq!(parse_bound("2026-11-20"), Some(at("2026-11-20T00:00:00Z")));
        assert_eq!(parse_bound("yesterday"), None);
        assert_eq!(parse_bound("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn seconds_are_cut_off() {
        assert_eq!(
            to_minute(at("2026-11-20T12:30:59.999Z")),
            at("2026-11-20T12:30:00Z")
        );
    }
}
