//! The daily API allowance: reading `Sforce-Limit-Info`, and deciding whether a request may go
//! now, should wait a little, or (if it is not urgent) must wait for the allowance to recover.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::client::SalesforceClient;
use crate::config::ApiVersion;
use crate::error::SalesforceError;
use crate::request::{ApiRequest, HttpMethod};

/// Usage as reported by the last `Sforce-Limit-Info` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiUsage {
    /// Requests counted against the org's rolling 24-hour allowance.
    pub used: u64,
    /// The allowance.
    pub max: u64,
    /// The connected app's own share, when the org set one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_app: Option<AppUsage>,
}

/// A connected app's share of the allowance (`per-app-api-usage=17/250(appName=sample-app)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppUsage {
    pub used: u64,
    pub max: u64,
    pub app_name: String,
}

impl ApiUsage {
    /// Fraction of the allowance used, from 0.0; above 1.0 when over. The tighter of the org
    /// and per-app shares.
    pub fn fraction_used(&self) -> f64 {
        let org = fraction(self.used, self.max);
        match &self.per_app {
            Some(app) => org.max(fraction(app.used, app.max)),
            None => org,
        }
    }

    /// Parses a `Sforce-Limit-Info` value: `api-usage=25/5000` optionally followed by
    /// `; per-app-api-usage=17/250(appName=sample-app)`. Unknown parts are ignored; `None` when
    /// there is no `api-usage` part.
    pub fn parse_header(value: &str) -> Option<ApiUsage> {
        let mut usage: Option<(u64, u64)> = None;
        let mut per_app = None;
        for part in value.split([';', ',']) {
            let part = part.trim();
            if let Some(rest) = part.strip_prefix("api-usage=") {
                usage = parse_ratio(rest);
            } else if let Some(rest) = part.strip_prefix("per-app-api-usage=") {
                let (ratio, app) = match rest.split_once('(') {
                    Some((ratio, app)) => (ratio, app),
                    None => (rest, ""),
                };
                let app_name = app
                    .trim_end_matches(')')
                    .strip_prefix("appName=")
                    .unwrap_or(app)
                    .to_owned();
                per_app = parse_ratio(ratio).map(|(used, max)| AppUsage {
                    used,
                    max,
                    app_name,
                });
            }
        }
        usage.map(|(used, max)| ApiUsage { used, max, per_app })
    }
}

fn fraction(used: u64, max: u64) -> f64 {
    if max == 0 {
        return 1.0;
    }
    used as f64 / max as f64
}

fn parse_ratio(s: &str) -> Option<(u64, u64)> {
    let (used, max) = s.trim().split_once('/')?;
    Some((used.trim().parse().ok()?, max.trim().parse().ok()?))
}

/// How a request ranks when the allowance runs low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    /// Backfills, reconciliation, polling: slowed, then refused inside the reserve.
    #[default]
    Normal,
    /// Work a person is waiting on (webhook-driven writes, credit alerts): never held back by
    /// the reserve; only Salesforce itself can refuse it.
    Urgent,
}

/// When to pace and when to stop non-urgent work.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitPolicy {
    /// From this fraction of the allowance used, non-urgent requests are spaced out.
    pub slow_from: f64,
    /// From this fraction used, non-urgent requests are refused (throttled) so the rest of the
    /// allowance stays for urgent work and for people using Salesforce.
    pub reserve_from: f64,
    /// The pause before a non-urgent request just under the reserve; it grows linearly from
    /// zero at `slow_from`.
    pub max_pause: Duration,
    /// What a refused request is told to wait (the allowance is a rolling 24 hours). Usage
    /// figures older than this no longer refuse work: the next request goes out and brings
    /// fresh ones.
    pub refused_retry_after: Duration,
}

impl Default for LimitPolicy {
    fn default() -> Self {
        Self {
            slow_from: 0.80,
            reserve_from: 0.90,
            max_pause: Duration::from_secs(2),
            refused_retry_after: Duration::from_secs(15 * 60),
        }
    }
}

/// What to do before sending a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    Go,
    /// Send after this pause.
    Pause(Duration),
    /// Do not send; the error says when to try again.
    Refuse {
        used: u64,
        max: u64,
    },
}

impl LimitPolicy {
    pub(crate) fn validate(&self) -> Result<(), SalesforceError> {
        let ok = (0.0..=1.0).contains(&self.slow_from)
            && (0.0..=1.0).contains(&self.reserve_from)
            && self.slow_from <= self.reserve_from;
        if ok {
            Ok(())
        } else {
            Err(SalesforceError::Config(format!(
                "limit policy needs 0 <= slow_from ({}) <= reserve_from ({}) <= 1",
                self.slow_from, self.reserve_from
            )))
        }
    }

    /// Decides for a request of `priority` given the last known usage.
    pub fn admit(&self, usage: Option<&ApiUsage>, priority: Priority) -> Admission {
        let Some(usage) = usage else {
            return Admission::Go;
        };
        if priority == Priority::Urgent {
            return Admission::Go;
        }
        let used = usage.fraction_used();
        if used >= self.reserve_from {
            return Admission::Refuse {
                used: usage.used,
                max: usage.max,
            };
        }
        if used >= self.slow_from && self.reserve_from > self.slow_from {
            let depth = (used - self.slow_from) / (self.reserve_from - self.slow_from);
            return Admission::Pause(self.max_pause.mul_f64(depth.clamp(0.0, 1.0)));
        }
        Admission::Go
    }
}

/// The latest usage seen on any response, shared by every clone of a client.
#[derive(Debug, Default)]
pub(crate) struct UsageTracker {
    last: Mutex<Option<(ApiUsage, Instant)>>,
}

impl UsageTracker {
    pub(crate) fn record(&self, usage: ApiUsage) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((usage, Instant::now()));
    }

    pub(crate) fn latest(&self) -> Option<ApiUsage> {
        self.observed_within(None)
    }

    /// The latest usage if it was observed less than `max_age` ago. Older figures are not
    /// trusted to hold work back: the allowance is a rolling window, so after a while one
    /// request is let through to learn the current usage.
    pub(crate) fn observed_within(&self, max_age: Option<Duration>) -> Option<ApiUsage> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.as_ref()
            .filter(|(_, at)| max_age.is_none_or(|max| at.elapsed() < max))
            .map(|(usage, _)| usage.clone())
    }
}

/// One entry of `GET /limits` (`DailyApiRequests`, `DailyBulkApiRequests`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgLimit {
    #[serde(rename = "Max")]
    pub max: u64,
    #[serde(rename = "Remaining")]
    pub remaining: u64,
}

/// `GET /limits`.
pub fn limits_request(version: ApiVersion) -> ApiRequest {
    ApiRequest::new(
        HttpMethod::Get,
        format!("{}/limits", version.data_root()),
        "limits",
    )
}

impl SalesforceClient {
    /// The org's limits by name. The call itself refreshes [`SalesforceClient::api_usage`].
    pub async fn org_limits(&self) -> Result<BTreeMap<String, OrgLimit>, SalesforceError> {
        let request = limits_request(self.api_version());
        let all: BTreeMap<String, serde_json::Value> =
            self.execute(&request).await?.json(request.what())?;
        // Entries carry extra members (per-app breakdowns); keep the Max/Remaining pairs.
        Ok(all
            .into_iter()
            .filter_map(|(k, v)| serde_json::from_value(v).ok().map(|l| (k, l)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_header_forms() {
        assert_eq!(
            ApiUsage::parse_header("api-usage=18/5000"),
            Some(ApiUsage {
                used: 18,
                max: 5000,
                per_app: None
            })
        );
        let both = ApiUsage::parse_header(
            "api-usage=25/5000; per-app-api-usage=17/250(appName=sample-app)",
        )
        .unwrap();
        assert_eq!((both.used, both.max), (25, 5000));
        assert_eq!(
            both.per_app,
            Some(AppUsage {
                used: 17,
                max: 250,
                app_name: "sample-app".into()
            })
        );
        // The app's share is the tighter one here.
        assert!((both.fraction_used() - 17.0 / 250.0).abs() < 1e-9);
        assert_eq!(ApiUsage::parse_header("garbage"), None);
        assert_eq!(ApiUsage::parse_header("api-usage=x/5000"), None);
    }

    fn usage(used: u64, max: u64) -> ApiUsage {
        ApiUsage {
            used,
            max,
            per_app: None,
        }
    }

    #[test]
    fn paces_then_refuses_non_urgent_work() {
        let p = LimitPolicy::default();
        assert_eq!(p.admit(None, Priority::Normal), Admission::Go);
        assert_eq!(
            p.admit(Some(&usage(10, 100)), Priority::Normal),
            Admission::Go
        );
        match p.admit(Some(&usage(85, 100)), Priority::Normal) {
            Admission::Pause(d) => {
                assert!(d > Duration::ZERO && d < p.max_pause, "{d:?}")
            }
            other => panic!("expected a pause, got {other:?}"),
        }
        assert_eq!(
            p.admit(Some(&usage(90, 100)), Priority::Normal),
            Admission::Refuse { used: 90, max: 100 }
        );
        assert_eq!(
            p.admit(Some(&usage(99, 100)), Priority::Urgent),
            Admission::Go
        );
        // A zero allowance is "all used".
        assert!(matches!(
            p.admit(Some(&usage(0, 0)), Priority::Normal),
            Admission::Refuse { .. }
        ));
    }

    #[test]
    fn limits_endpoint_entries_parse() {
        assert_eq!(
            limits_request(ApiVersion::DEFAULT).path(),
            "/services/data/v62.0/limits"
        );
        let l: OrgLimit = serde_json::from_str(r#"{"Max":15000,"Remaining":14998}"#).unwrap();
        assert_eq!(l.max - l.remaining, 2);
    }

    #[test]
    fn stale_usage_is_not_trusted_to_refuse_work() {
        let t = UsageTracker::default();
        assert_eq!(t.latest(), None);
        t.record(usage(95, 100));
        assert_eq!(
            t.observed_within(Some(Duration::from_secs(60))),
            Some(usage(95, 100))
        );
        assert_eq!(t.observed_within(Some(Duration::ZERO)), None);
        assert_eq!(t.latest(), Some(usage(95, 100)));
    }

    #[test]
    fn policy_validation() {
        let mut p = LimitPolicy::default();
        assert!(p.validate().is_ok());
        p.slow_from = 0.95;
        assert!(p.validate().is_err());
    }
}
