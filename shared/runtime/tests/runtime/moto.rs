//! The local moto server the cold-start tests use (`tests/run` starts it and exports
//! `LEDGERFORCE_MOTO_ENDPOINT`).

use lf_aws::AwsSettings;

const ENDPOINT_VAR: &str = "LEDGERFORCE_MOTO_ENDPOINT";

/// Settings for moto; panics with how to start one when it is not configured.
pub fn settings() -> AwsSettings {
    match std::env::var(ENDPOINT_VAR) {
        Ok(url) if !url.trim().is_empty() => AwsSettings::local(url),
        _ => panic!(
            "{ENDPOINT_VAR} is not set: run `tests/run` (it starts moto), or start \
             `moto_server -H 127.0.0.1 -p PORT` and export {ENDPOINT_VAR}=http://127.0.0.1:PORT"
        ),
    }
}
