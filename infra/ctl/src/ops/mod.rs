//! The operator commands that read the configuration: `doctor`, `reconcile` and `drift`, against the
//! sandboxes or the real systems, with the embedded store or a deployment's.

use std::path::Path;

pub(crate) mod backfill;
pub(crate) mod config;
pub(crate) mod doctor;
pub(crate) mod drift;
pub(crate) mod reconcile;
pub(crate) mod systems;

pub(crate) use config::Config;

/// The configuration of `--config` (else `ledgerforce.toml` if present) and the process
/// environment.
pub(crate) fn load_config(file: Option<&Path>) -> Result<Config, config::ConfigError> {
    config::load(file, &|var| std::env::var(var).ok())
}

/// The `[store]` of the configuration (`file`, or ./ledgerforce.toml) and the environment:
/// all the commands over the sync's state need.
pub(crate) fn load_store_config(
    file: Option<&Path>,
) -> Result<config::StoreConfig, config::ConfigError> {
    config::load_store(file, &|var| std::env::var(var).ok())
}
