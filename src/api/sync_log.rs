//! The `SyncLog` object (one resource type's part of one sync run), as the API's
//! sync-history operations and the dashboard's timeline show it, and the pages of the
//! log a thread rendered lately.
//!
//! A page of 100 entries is about 47 KB of JSON, some 30 times the work of one
//! integration, and a settings page polls the same page again and again while the log
//! does not change: [`kept_page`] keeps, per thread, the pages it rendered, keyed by
//! the history's revision (which changes with every change of the log) and everything
//! else a page is made from.

use crate::fast_map::{FastMap, fast_map};
use bytes::Bytes;
use serde::Serialize;
use std::cell::RefCell;
use uuid::Uuid;

use super::render::Rfc3339;
use crate::sim::{Integration, Provider, ResourceType, SyncHistory, SyncLogEntry};

/// A `SyncLog`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogView {
    id: Uuid,
    integration_id: Uuid,
    provider: Provider,
    job_id: Uuid,
    job_type: &'static str,
    resource_type: ResourceType,
    /// `status` (`success`, `failed`, ...).
    pub status: &'static str,
    items_processed: u32,
    full_sync: bool,
    started_at: Rfc3339,
    completed_at: Option<Rfc3339>,
    duration_ms: Option<u32>,
    error: Option<String>,
    /// Whether `POST .../retry` would take it.
    pub retryable: bool,
    retry_of: Option<Uuid>,
    idempotency_key: String,
    unmapped_packages: u16,
}

/// What a `SyncLog` says of its integration.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    /// The integration's id.
    pub integration_id: Uuid,
    /// Its provider.
    pub provider: Provider,
    /// Whether it is active (an inactive integration's entries are not retryable).
    pub active: bool,
}

impl Owner {
    /// The owner `integ` is.
    pub fn of(integ: &Integration) -> Self {
        Owner {
            integration_id: integ.id,
            provider: integ.provider,
            active: integ.is_active,
        }
    }
}

/// The view of entry `e` of `owner`; `retryable` as the history says (the integration
/// must be active too); `said`: its error in a captured deployment's own words
/// ([`SyncHistory::message`]).
pub fn log_view(e: &SyncLogEntry, owner: Owner, retryable: bool, said: Option<&str>) -> LogView {
    LogView {
        id: e.id,
        integration_id: owner.integration_id,
        provider: owner.provider,
        job_id: e.job_id,
        job_type: e.job_type.as_str(),
        resource_type: e.resource_type,
        status: e.status.as_str(),
        items_processed: e.items_processed,
        full_sync: e.full,
        started_at: Rfc3339(e.started_at),
        completed_at: e.completed_at().map(Rfc3339),
        duration_ms: e.duration_ms,
        error: match said {
            Some(text) => Some(text.to_owned()),
            None => e
                .failure
                .map(|f| f.message(owner.provider, Some(e.resource_type))),
        },
        retryable: owner.active && retryable,
        retry_of: e.retry_of,
        idempotency_key: e.idempotency_key(),
        unmapped_packages: e.unmapped_packages,
    }
}

/// The view of one entry of `integ`, looked up in its history `h`.
pub fn one_view(e: &SyncLogEntry, integ: &Integration, h: &SyncHistory) -> LogView {
    let retryable = h.retry_refusal(integ.provider, e.id).is_none();
    log_view(e, Owner::of(integ), retryable, h.message(e.id))
}

/// The view of an entry a retry just wrote, of the active integration `integration_id`:
/// the newest of its resource type, so nothing covers it yet (no need to read the
/// history again).
pub fn retry_view(e: &SyncLogEntry, integration_id: Uuid, provider: Provider) -> LogView {
    let owner = Owner {
        integration_id,
        provider,
        active: true,
    };
    log_view(e, owner, e.retryable(false), None)
}

/// Everything a page of the log is made from: the integration (its id, provider and
/// whether it is active, which `retryable` reads), the history's revision, and the
/// query (filters, limit, offset) written out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    /// The integration.
    pub integration: Uuid,
    /// Whether it is active.
    pub active: bool,
    /// [`SyncHistory::revision`]; 0 keeps nothing.
    pub revision: u64,
    /// The query, in a canonical form.
    pub query: String,
}

/// How many pages a thread keeps; past that it starts afresh.
const KEPT_PAGES: usize = 32;

thread_local! {
    /// This thread's rendered pages. Per thread, so reading one takes no lock.
    static PAGES: RefCell<FastMap<PageKey, (Bytes, u32)>> = RefCell::new(fast_map());
}

/// The page `key` names, with what `render` said of it (the states its entries show,
/// for coverage): what this thread rendered before for the same key, else `render`'s,
/// kept (unless the revision is 0). The bytes are shared, not copied.
pub fn kept_page<E>(
    key: PageKey,
    render: impl FnOnce() -> Result<(Bytes, u32), E>,
) -> Result<(Bytes, u32), E> {
    if key.revision != 0
        && let Some(page) = PAGES.with_borrow(|kept| kept.get(&key).cloned())
    {
        return Ok(page);
    }
    let page = render()?;
    if key.revision != 0 {
        PAGES.with_borrow_mut(|kept| {
            if kept.len() >= KEPT_PAGES {
                kept.clear();
            }
            kept.insert(key, page.clone());
        });
    }
    Ok(page)
}
