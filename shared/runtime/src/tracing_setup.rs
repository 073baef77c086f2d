//! JSON logs for CloudWatch: one object per event, the current span's fields (flow,
//! correlation id, record) on every line, filtered by `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber. Calling it twice keeps the first (returns `false`).
pub fn init_tracing() -> bool {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .try_init()
        .is_ok()
}
