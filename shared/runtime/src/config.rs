//! The functions' configuration, read from the environment once at cold start. Every error
//! names the variable.

use std::collections::BTreeMap;

use lf_aws::{AwsSettings, SpecSource, TableNames};
use lf_domain::port::RevenueBasis;
use lf_domain::{CurrencyCode, Flow};
use lf_flows::RevenueReconciliationOptions;

/// The prefix of every table name (`ledgerforce-<stage>`).
pub const TABLE_PREFIX_VAR: &str = "LEDGERFORCE_TABLE_PREFIX";
/// Intacct requests in flight at once across the company.
pub const INTACCT_CONCURRENCY_VAR: &str = "LEDGERFORCE_INTACCT_CONCURRENCY";
/// Secrets Manager ARNs.
pub const SALESFORCE_SECRET_VAR: &str = "LEDGERFORCE_SALESFORCE_SECRET_ARN";
pub const INTACCT_SECRET_VAR: &str = "LEDGERFORCE_INTACCT_SECRET_ARN";
pub const WEBHOOK_SECRET_VAR: &str = "LEDGERFORCE_WEBHOOK_SECRET_ARN";
/// Where Salesforce tokens are requested (`https://login.salesforce.com`, the My Domain).
pub const SALESFORCE_LOGIN_URL_VAR: &str = "SALESFORCE_LOGIN_URL";
/// Overrides the token response's `instance_url` (e.g. behind a proxy).
pub const SALESFORCE_INSTANCE_URL_VAR: &str = "SALESFORCE_INSTANCE_URL";
/// `jwt` (default) or `client_credentials`: which OAuth flow, so which fields the Salesforce
/// secret must hold.
pub const SALESFORCE_AUTH_VAR: &str = "LEDGERFORCE_SALESFORCE_AUTH";
/// Comma-separated org ids whose Outbound Messages the webhook accepts.
pub const SALESFORCE_ORG_IDS_VAR: &str = "LEDGERFORCE_SALESFORCE_ORG_IDS";
/// The Intacct XML gateway; default the production one.
pub const INTACCT_ENDPOINT_URL_VAR: &str = "INTACCT_ENDPOINT_URL";

/// The S3 bucket the revenue reconciliation writes its report to, and the key prefix.
pub const REPORT_BUCKET_VAR: &str = "LEDGERFORCE_REPORT_BUCKET";
pub const REPORT_PREFIX_VAR: &str = "LEDGERFORCE_REPORT_PREFIX";
/// The reconciliation's reporting currency (ISO 4217; default USD).
pub const REPORTING_CURRENCY_VAR: &str = "LEDGERFORCE_REPORTING_CURRENCY";
/// The Salesforce org's corporate currency, which its dated conversion rates are relative to
/// (default USD).
pub const CORPORATE_CURRENCY_VAR: &str = "LEDGERFORCE_SALESFORCE_CORPORATE_CURRENCY";
/// Where recognized revenue is read: `schedule` (default: posted revenue recognition schedule
/// entries) or `gl:4000,4100` (GL detail on those revenue accounts).
pub const REVENUE_BASIS_VAR: &str = "LEDGERFORCE_REVENUE_BASIS";

/// `true` or `false` (default): whether the scheduled drift check writes the owners' values
/// where a linked pair disagrees, or only reports.
pub const DRIFT_REPAIR_VAR: &str = "LEDGERFORCE_DRIFT_REPAIR";

/// The variable holding a flow's queue URL: `LEDGERFORCE_QUEUE_URL_OPPORTUNITY_WON`.
pub fn queue_url_var(flow: Flow) -> String {
    format!(
        "LEDGERFORCE_QUEUE_URL_{}",
        flow.as_str().to_ascii_uppercase().replace('-', "_")
    )
}

/// Which OAuth 2.0 flow the Salesforce connector uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SalesforceAuth {
    /// JWT bearer: the secret holds `consumer_key`, `username`, `private_key` (PEM).
    #[default]
    JwtBearer,
    /// Client credentials: the secret holds `consumer_key`, `consumer_secret`.
    ClientCredentials,
}

/// A configuration value is missing or unreadable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {var} is not set")]
    Missing { var: String },
    #[error("environment variable {var} is invalid: {reason}")]
    Invalid { var: String, reason: String },
}

/// Everything a function reads from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeConfig {
    pub tables: TableNames,
    /// Queue URLs of the flows whose variable is set.
    pub queue_urls: BTreeMap<Flow, String>,
    pub salesforce_secret: Option<String>,
    pub intacct_secret: Option<String>,
    pub webhook_secret: Option<String>,
    pub spec_source: SpecSource,
    /// At least 1; default 2.
    pub intacct_concurrency: u32,
    /// `None` until a Salesforce client is built, which then names the variable.
    pub salesforce_login_url: Option<String>,
    pub salesforce_instance_url: Option<String>,
    pub salesforce_auth: SalesforceAuth,
    /// Empty until the Salesforce webhook is built, which then names the variable.
    pub salesforce_org_ids: Vec<String>,
    pub intacct_endpoint_url: String,
    /// `None` until the reconciliation's report store is built, which then names the variable.
    pub report_bucket: Option<String>,
    /// Empty or ending in `/`.
    pub report_prefix: String,
    pub reconciliation: RevenueReconciliationOptions,
    /// Whether the scheduled drift check repairs (`LEDGERFORCE_DRIFT_REPAIR`).
    pub drift_repair: bool,
    /// The SDK's own providers (region, credentials, `AWS_ENDPOINT_URL`) unless overridden:
    /// tests point it at moto.
    pub aws: AwsSettings,
}

impl RuntimeConfig {
    /// Reads the process environment (the only place a function reads it).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    /// Reads through `lookup` (a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: &str| lookup(var).filter(|v| !v.trim().is_empty());
        let prefix = get(TABLE_PREFIX_VAR).ok_or_else(|| ConfigError::Missing {
            var: TABLE_PREFIX_VAR.to_owned(),
        })?;
        let queue_urls = Flow::ALL
            .into_iter()
            .filter_map(|flow| get(&queue_url_var(flow)).map(|url| (flow, url)))
            .collect();
        let spec_source = SpecSource::parse(lookup(lf_aws::MAPPING_SOURCE_VAR).as_deref())
            .map_err(|e| ConfigError::Invalid {
                var: lf_aws::MAPPING_SOURCE_VAR.to_owned(),
                reason: e.to_string(),
            })?;
        let intacct_concurrency = match get(INTACCT_CONCURRENCY_VAR) {
            None => 2,
            Some(text) => match text.trim().parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(ConfigError::Invalid {
                        var: INTACCT_CONCURRENCY_VAR.to_owned(),
                        reason: format!("`{text}` is not a whole number of at least 1"),
                    });
                }
            },
        };
        let salesforce_auth = match get(SALESFORCE_AUTH_VAR).as_deref().map(str::trim) {
            None | Some("jwt") => SalesforceAuth::JwtBearer,
            Some("client_credentials") => SalesforceAuth::ClientCredentials,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: SALESFORCE_AUTH_VAR.to_owned(),
                    reason: format!("`{other}` is neither `jwt` nor `client_credentials`"),
                });
            }
        };
        let salesforce_org_ids = get(SALESFORCE_ORG_IDS_VAR)
            .map(|ids| {
                ids.split(',')
                    .map(str::trim)
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let reconciliation = reconciliation_options(&get)?;
        let drift_repair = match get(DRIFT_REPAIR_VAR).as_deref().map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: DRIFT_REPAIR_VAR.to_owned(),
                    reason: format!("`{other}` is neither `true` nor `false`"),
                });
            }
        };
        Ok(Self {
            tables: TableNames::with_prefix(prefix.trim()),
            queue_urls,
            salesforce_secret: get(SALESFORCE_SECRET_VAR),
            intacct_secret: get(INTACCT_SECRET_VAR),
            webhook_secret: get(WEBHOOK_SECRET_VAR),
            spec_source,
            intacct_concurrency,
            salesforce_login_url: get(SALESFORCE_LOGIN_URL_VAR).map(|u| u.trim().to_owned()),
            salesforce_instance_url: get(SALESFORCE_INSTANCE_URL_VAR).map(|u| u.trim().to_owned()),
            salesforce_auth,
            salesforce_org_ids,
            intacct_endpoint_url: get(INTACCT_ENDPOINT_URL_VAR)
                .map(|u| u.trim().to_owned())
                .unwrap_or_else(|| lf_intacct::DEFAULT_ENDPOINT_URL.to_owned()),
            report_bucket: get(REPORT_BUCKET_VAR).map(|b| b.trim().to_owned()),
            report_prefix: get(REPORT_PREFIX_VAR)
                .map(|p| {
                    let p = p.trim().trim_matches('/');
                    if p.is_empty() {
                        String::new()
                    } else {
                        format!("{p}/")
                    }
                })
                .unwrap_or_default(),
            reconciliation,
            drift_repair,
            aws: AwsSettings::default(),
        })
    }

    /// The queue URL of `flow`, or the error naming its variable.
    pub fn queue_url(&self, flow: Flow) -> Result<&str, ConfigError> {
        self.queue_urls
            .get(&flow)
            .map(String::as_str)
            .ok_or_else(|| ConfigError::Missing {
                var: queue_url_var(flow),
            })
    }
}

/// The reconciliation's currencies and revenue basis.
fn reconciliation_options(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<RevenueReconciliationOptions, ConfigError> {
    let mut options = RevenueReconciliationOptions::default();
    let currency = |var: &str| -> Result<Option<CurrencyCode>, ConfigError> {
        get(var)
            .map(|c| {
                CurrencyCode::parse(&c).map_err(|e| ConfigError::Invalid {
                    var: var.to_owned(),
                    reason: e.to_string(),
                })
            })
            .transpose()
    };
    if let Some(c) = currency(REPORTING_CURRENCY_VAR)? {
        options.reporting_currency = c;
    }
    if let Some(c) = currency(CORPORATE_CURRENCY_VAR)? {
        options.corporate_currency = c;
    }
    match get(REVENUE_BASIS_VAR).as_deref().map(str::trim) {
        None | Some("schedule") => {}
        Some(gl) if gl.starts_with("gl:") => {
            let accounts: Vec<String> = gl[3..]
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect();
            if accounts.is_empty() {
                return Err(ConfigError::Invalid {
                    var: REVENUE_BASIS_VAR.to_owned(),
                    reason: "`gl:` needs at least one revenue account (`gl:4000,4100`)".into(),
                });
            }
            options.basis = RevenueBasis::GlAccounts(accounts);
        }
        Some(other) => {
            return Err(ConfigError::Invalid {
                var: REVENUE_BASIS_VAR.to_owned(),
                reason: format!("`{other}` is neither `schedule` nor `gl:ACCOUNT,...`"),
            });
        }
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<RuntimeConfig, ConfigError> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        RuntimeConfig::from_lookup(|var| map.get(var).cloned())
    }

    #[test]
    fn a_full_environment_reads_and_errors_name_the_variable() {
        let ok = from(&[
            (TABLE_PREFIX_VAR, "ledgerforce-dev"),
            (
                "LEDGERFORCE_QUEUE_URL_OPPORTUNITY_WON",
                "https://sqs.example/1/q",
            ),
            (INTACCT_CONCURRENCY_VAR, "4"),
            (lf_aws::MAPPING_SOURCE_VAR, "s3://specs-bucket/prod/"),
            (SALESFORCE_AUTH_VAR, "client_credentials"),
            (
                SALESFORCE_ORG_IDS_VAR,
                " 00D5g000004ZxYzEAK, ,00D000000000001 ",
            ),
        ])
        .unwrap();
        assert_eq!(ok.salesforce_auth, SalesforceAuth::ClientCredentials);
        assert_eq!(
            ok.salesforce_org_ids,
            ["00D5g000004ZxYzEAK", "00D000000000001"]
        );
        assert_eq!(ok.intacct_endpoint_url, lf_intacct::DEFAULT_ENDPOINT_URL);
        assert_eq!(ok.salesforce_login_url, None);
        assert_eq!(ok.tables.xref, "ledgerforce-dev-xref");
        assert_eq!(
            ok.queue_url(Flow::OpportunityWon).unwrap(),
            "https://sqs.example/1/q"
        );
        assert_eq!(ok.intacct_concurrency, 4);
        assert_eq!(
            ok.queue_url(Flow::AccountOnboarding)
                .unwrap_err()
                .to_string(),
            "environment variable LEDGERFORCE_QUEUE_URL_ACCOUNT_ONBOARDING is not set"
        );

        let missing = from(&[]).unwrap_err();
        assert!(missing.to_string().contains(TABLE_PREFIX_VAR), "{missing}");
        let bad = from(&[(TABLE_PREFIX_VAR, "p"), (INTACCT_CONCURRENCY_VAR, "0")]).unwrap_err();
        assert!(matches!(&bad, ConfigError::Invalid { var, .. } if var == INTACCT_CONCURRENCY_VAR));
        let bad = from(&[(TABLE_PREFIX_VAR, "p"), (SALESFORCE_AUTH_VAR, "password")]).unwrap_err();
        assert!(matches!(&bad, ConfigError::Invalid { var, .. } if var == SALESFORCE_AUTH_VAR));
        let bad = from(&[
            (TABLE_PREFIX_VAR, "p"),
            (lf_aws::MAPPING_SOURCE_VAR, "ftp://x"),
        ])
        .unwrap_err();
        assert!(
            bad.to_string().contains("LEDGERFORCE_MAPPING_SOURCE"),
            "{bad}"
        );
    }

    #[test]
    fn the_reconciliation_reads_its_bucket_currencies_and_basis() {
        let ok = from(&[
            (TABLE_PREFIX_VAR, "p"),
            (REPORT_BUCKET_VAR, " finance-reports "),
            (REPORT_PREFIX_VAR, "/monthly/"),
            (REPORTING_CURRENCY_VAR, "eur"),
            (REVENUE_BASIS_VAR, "gl:4000, 4100"),
        ])
        .unwrap();
        assert_eq!(ok.report_bucket.as_deref(), Some("finance-reports"));
        assert_eq!(ok.report_prefix, "monthly/");
        assert_eq!(ok.reconciliation.reporting_currency.as_str(), "EUR");
        assert_eq!(ok.reconciliation.corporate_currency.as_str(), "USD");
        assert_eq!(
            ok.reconciliation.basis,
            RevenueBasis::GlAccounts(vec!["4000".into(), "4100".into()])
        );
        let default = from(&[(TABLE_PREFIX_VAR, "p")]).unwrap();
        assert_eq!(default.report_bucket, None);
        assert_eq!(
            default.reconciliation,
            RevenueReconciliationOptions::default()
        );
        for (var, value) in [
            (REPORTING_CURRENCY_VAR, "dollars"),
            (REVENUE_BASIS_VAR, "gl:"),
            (REVENUE_BASIS_VAR, "ledger"),
        ] {
            let bad = from(&[(TABLE_PREFIX_VAR, "p"), (var, value)]).unwrap_err();
            assert!(
                matches!(&bad, ConfigError::Invalid { var: v, .. } if v == var),
                "{bad}"
            );
        }
    }
}
