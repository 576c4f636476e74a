//! The behaviour every backend must show, written once: plain functions that
//! take the [`Database`] under test, run for SQLite by `tests/sqlite.rs` and
//! for PostgreSQL by `tests/postgres.rs` through [`conformance_tests!`].
//!
//! What only one backend can show stays with that backend: SQLite's file
//! (WAL, `synchronous`, missing files) beside its code and in
//! `tests/sqlite.rs`; PostgreSQL's servers racing (`Conflict`), migrations
//! under an advisory lock, lost connections, the tokio runtime and its
//! configuration in `tests/postgres.rs` and `tests/postgres_auth.rs`.

pub(crate) mod auth;
pub(crate) mod leases;
pub(crate) mod users;

use headend_store::Store;

/// One empty database of the backend under test, removed when dropped.
pub(crate) trait Database {
    /// Opens it as a headend server does, migrating it. Every call opens the
    /// same database again: a second server beside the first, or the first
    /// one after a restart.
    fn open(&self) -> Store;
    /// Opens it without migrating, as a tool beside a running server does
    /// (`headend leases`).
    fn open_existing(&self) -> Store;
    /// Whether the thread `tid` (of this process) is held up by the write
    /// transaction another `Store` of this database has open: PostgreSQL's
    /// lock wait, SQLite's busy handler.
    fn is_blocked(&self, tid: u32) -> bool;
}

/// The id of the calling thread (for [`Database::is_blocked`]).
pub(crate) fn thread_id() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    link.file_name().unwrap().to_str().unwrap().parse().unwrap()
}

/// Generates one `#[test]` per scenario of the suite, in the modules `leases`
/// and `auth`; each test runs its scenario on the fresh [`Database`] that the
/// expression `$fresh` makes (and drops at its end).
macro_rules! conformance_tests {
    ($fresh:expr) => {
        conformance_tests!(@each $fresh; leases:
            committed_lease_survives_reopen,
            lease_class_is_stored_and_rewritten,
            unsynced_commit_is_seen_by_the_next_transaction_and_kept_after_sync,
            dropped_transaction_rolls_back,
            claim_refuses_an_address_that_has_a_row,
            pool_queries_find_highest_gap_and_oldest_expired,
            client_lookup_skips_declined_and_counts_exclude_the_client,
            put_replaces_another_clients_row_and_reads_outside_the_transaction,
            reader_sees_committed_rows_while_writer_is_open,
            api_reservations_are_seen_inside_lease_transactions,
            dhcp6_api_reservations_are_unique_and_seen_inside_lease_transactions,
            claim_of_one_address_by_two_servers_lets_one_win,
            heartbeats_are_aged_by_the_stores_clock_and_rows_name_their_server,
            lease_search_pages_and_counts_agree_with_the_reference,
            dhcp6_bindings_claim_scan_and_survive_reopen,
            lookups_answer_alike_with_prefetch_and_see_held_writes,
        );
        conformance_tests!(@each $fresh; auth:
            duplicate_user_is_refused_whatever_its_case,
            role_change_kills_older_access_tokens,
            password_change_and_disable_revoke_sessions,
            failures_count_up_and_lock_until_unlocked,
            rotation_spends_the_old_token_once,
            revoked_family_cannot_rotate_and_families_are_listed,
            revoking_a_users_families_revokes_every_live_one,
            family_of_an_unknown_user_is_refused_whole,
            audit_lists_newest_first_up_to_the_limit,
            reservation_address_belongs_to_one_client,
            reservation_attributes_are_set_patched_and_go_with_the_reservation,
            retention_sweep_deletes_only_rows_past_their_horizon,
            signing_keys_are_one_per_instant,
            deleting_a_user_revokes_sessions_and_their_api_keys_and_is_noted,
            a_second_factor_step_and_recovery_code_are_spent_once,
            sso_sessions_are_kept_replaced_and_go_with_their_family,
        );
    };
    (@each $fresh:expr; $module:ident: $($scenario:ident),+ $(,)?) => {
        mod $module {
            use super::*;
            $(
                #[test]
                fn $scenario() {
                    let db = $fresh;
                    crate::conformance::$module::$scenario(&db);
                }
            )+
        }
    };
}
