//! The port contract suites. Each public async fn is one case, generic over a [`crate::Harness`].

pub mod audit;
pub mod idempotency;
pub mod limiter;
pub mod parked;
pub mod queue;
pub mod sync_state;
pub mod xref;

/// Expands to one `#[tokio::test]` per contract case, run against the given
/// [`crate::Harness`] type. Tests are named `<suite>::<case>`, e.g. `queue::...`.
///
/// ```text
/// lf_testkit::port_contract_tests!(MyHarness);
/// ```
#[macro_export]
macro_rules! port_contract_tests {
    ($harness:ty) => {
        $crate::port_contract_tests!(@suite $harness, xref, [
            link_is_readable_from_both_sides,
            relinking_the_same_pair_is_idempotent,
            conflicting_links_change_nothing,
            kinds_are_separate_namespaces_and_keys_are_company_wide,
            cross_entity_xref_lookup,
            unlink_removes_both_directions,
            concurrent_links_have_one_winner,
            listing_pages_through_every_link_of_a_kind_once,
        ]);
        $crate::port_contract_tests!(@suite $harness, idempotency, [
            first_begin_starts_and_second_sees_in_progress,
            completed_key_returns_stored_result,
            release_lets_the_work_run_again,
            completed_record_expires,
            in_progress_expires_at_the_deadline,
            killed_without_deadline_is_bounded_by_max_in_progress,
            deadline_is_capped_by_max_in_progress,
            different_payload_for_same_key_is_refused,
            concurrent_begins_have_one_winner,
            a_late_complete_still_records_the_result,
            a_late_release_keeps_a_completed_result,
            a_stale_owner_changes_nothing,
        ]);
        $crate::port_contract_tests!(@suite $harness, sync_state, [
            watermark_moves_only_forward,
            racing_watermark_advances_keep_the_maximum,
            fingerprints_are_per_record_and_replaced,
            fingerprints_are_kept_per_flow,
        ]);
        $crate::port_contract_tests!(@suite $harness, parked, [
            park_upserts_and_keeps_first_seen,
            list_is_newest_first_and_counts_are_per_flow,
            oversized_payload_is_refused_and_nothing_changes,
            concurrent_parks_lose_no_attempt,
        ]);
        $crate::limiter_contract_tests!($harness);
        $crate::port_contract_tests!(@suite $harness, audit, [
            history_is_newest_first_and_limited,
            entries_with_equal_timestamps_are_all_kept,
        ]);
        $crate::port_contract_tests!(@suite $harness, queue, [
            sent_messages_are_received_and_deleted,
            large_batches_are_split_and_all_delivered,
            oversized_message_is_refused,
            unacknowledged_message_is_redelivered_after_visibility_timeout,
            visibility_can_be_extended_and_cleared,
            message_moves_to_dead_letter_queue_after_max_receives,
            delayed_message_is_hidden_until_its_delay_passes,
            a_receipt_that_no_longer_holds_its_message_deletes_harmlessly,
        ]);
    };
    (@suite $harness:ty, $suite:ident, [$($case:ident),* $(,)?]) => {
        mod $suite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let h = <$harness as $crate::Harness>::new().await;
                    $crate::contract::$suite::$case(&h).await;
                }
            )*
        }
    };
}

/// The limiter cases alone, for a limiter that is not part of an adapter family (the
/// in-process one); [`port_contract_tests!`] includes them.
#[macro_export]
macro_rules! limiter_contract_tests {
    ($harness:ty) => {
        $crate::port_contract_tests!(@suite $harness, limiter, [
            never_more_than_capacity_leases_are_held,
            an_expired_lease_is_reclaimed,
            a_stale_release_changes_nothing,
            acquire_at_a_passed_deadline_is_throttled,
        ]);
    };
}
