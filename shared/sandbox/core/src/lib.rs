//! What both emulators share.
//!
//! - [`faults`]: a fault plan drawn from a deterministic seed, plus one-shot faults a test can
//!   queue, so a failing run can be replayed exactly.
//! - [`push`]: at-least-once webhook delivery with backoff, optional duplicates and reordering —
//!   how Salesforce Outbound Messages and Intacct Smart Events reach their receivers.
//! - [`DataSet`]: which records an emulator starts with.
//! - [`serve`]: runs an axum router on a loopback port and stops it on request.

pub mod data_set;
pub mod faults;
pub mod push;
pub mod serve;

pub use data_set::DataSet;
pub use faults::{FaultPlan, FaultSpecError, parse_fault_rates};
pub use push::{AckCheck, Delivery, PushConfig, PushStats, Pusher};
pub use serve::{Server, serve};
