//! The daily allowance: usage read from `Sforce-Limit-Info`, pacing, the reserve, and
//! `REQUEST_LIMIT_EXCEEDED`.

use std::time::Duration;

use lf_domain::{Classify, ErrorClass};
use lf_salesforce::{SalesforceError, Select};
use lf_sandbox_salesforce::SalesforceFault;

use crate::support::{client_with, org};

fn any_query() -> lf_salesforce::Soql {
    Select::new(&["Id"], "Account").limit(1).build().unwrap()
}

#[tokio::test]
async fn usage_is_read_from_every_response() {
    let org = org().await;
    org.set_daily_limit(5_000);
    let sf = client_with(&org, |_| {});
    assert_eq!(sf.api_usage(), None);
    sf.query(&any_query()).await.unwrap();
    sf.query(&any_query()).await.unwrap();
    let usage = sf.api_usage().expect("Sforce-Limit-Info on every response");
    assert_eq!(usage.max, 5_000);
    assert_eq!(usage.used, org.api_calls());

    let limits = sf.org_limits().await.unwrap();
    let daily = &limits["DailyApiRequests"];
    assert_eq!(daily.max, 5_000);
    // The /limits call counts itself, as the header does.
    assert_eq!(daily.max - daily.remaining, org.api_calls());
}

#[tokio::test]
async fn non_urgent_work_stops_at_the_reserve_and_urgent_work_goes_on() {
    let org = org().await;
    org.set_daily_limit(1_000);
    let sf = client_with(&org, |c| {
        c.limits.slow_from = 0.80;
        c.limits.reserve_from = 0.90;
        c.limits.max_pause = Duration::from_millis(30);
    });
    // Far from the limit: no pacing.
    sf.query(&any_query()).await.unwrap();

    // In the slow band (85 %): the request is paced, then sent.
    org.set_api_usage(850);
    sf.query(&any_query()).await.unwrap();
    assert_eq!(sf.api_usage().unwrap().used, 851);

    // Inside the reserve: refused locally, nothing reaches Salesforce.
    org.set_api_usage(900);
    sf.urgent().query(&any_query()).await.unwrap();
    let calls = org.api_calls();
    let err = sf.query(&any_query()).await.unwrap_err();
    assert!(
        matches!(
            err,
            SalesforceError::DailyReserve {
                used: 901,
                max: 1_000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        err.class(),
        ErrorClass::Throttled {
            retry_after: Some(_)
        }
    ));
    assert_eq!(org.api_calls(), calls);

    // Urgent work still goes through.
    sf.urgent().query(&any_query()).await.unwrap();
    assert_eq!(org.api_calls(), calls + 1);

    // A new day: usage drops and normal work resumes once a response says so.
    org.set_api_usage(0);
    sf.urgent().query(&any_query()).await.unwrap();
    sf.query(&any_query()).await.unwrap();
}

#[tokio::test]
async fn request_limit_exceeded_is_throttled() {
    let org = org().await;
    org.set_daily_limit(50);
    let sf = client_with(&org, |c| c.retry.max_attempts = 2);
    sf.connect().await.unwrap();
    org.set_api_usage(50);
    let err = sf.urgent().query(&any_query()).await.unwrap_err();
    let failure = err.api_failure().expect("REST failure");
    assert_eq!(failure.status, 403);
    assert_eq!(failure.code(), Some("REQUEST_LIMIT_EXCEEDED"));
    assert!(matches!(err.class(), ErrorClass::Throttled { .. }));

    // A one-off limit refusal is retried and the call then succeeds.
    org.set_api_usage(0);
    org.faults().inject_next(SalesforceFault::LimitExceeded, 1);
    sf.urgent().query(&any_query()).await.unwrap();
    assert_eq!(sf.api_usage().unwrap().used, 1);
    // Usage is low again, so normal work is admitted.
    sf.query(&any_query()).await.unwrap();
}
