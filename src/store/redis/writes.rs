//! The write pipeline of the Redis store: how one replica's writers of a tenant take
//! turns and send their compare-and-sets one behind the other without waiting for each
//! answer, and how a refusal (another replica wrote in between) is recovered from.
//!
//! An update is optimistic: read the value and its version, apply the pure change, and,
//! only if the value changed, write it with a compare-and-set that refuses when the
//! version moved. Within a replica, the writers of one value take *turns*: the writer
//! holding the turn applies its change to the value as the write *sent* before it
//! leaves it (the [`Turn`]'s last change, not yet answered perhaps), queues its own
//! compare-and-set behind that one (the backend sends commands in order on one
//! connection, so it finds the version the previous one wrote) and gives up the turn
//! before its answer: a replica's writes of one value cost one round trip for many.
//!
//! - The writer chooses each new version ([`Versions`]): the next write must name it
//!   before the backend answers. No version is used twice.
//! - The versions this replica wrote on top of one read form a *chain*. A write that
//!   changes nothing from the last write sent answers from that write only if its own
//!   read saw a version of the chain (no other replica wrote since), and only once that
//!   write has landed; else it reads afresh. So no answer is stale.
//! - A refusal fails the writes built on the refused one (their versions no longer
//!   match); each then reads afresh and tries again, at most [`MAX_ATTEMPTS`] times.
//!
//! The pipeline is generic over the value (the Redis store writes tenants) and over the
//! backend ([`Backend`]), so its logic is tested here without a server.

use std::collections::{HashMap, VecDeque};
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::corrupt;
use crate::sim::{ApiKey, lock};
use crate::store::StoreError;

/// How often an update is tried again when another writer got there first.
pub(super) const MAX_ATTEMPTS: usize = 64;

/// Values whose writers' turns and last write a replica keeps.
const KEPT_WRITERS: usize = 4096;

/// The most versions of a chain remembered (older ones are simply not recognized).
const CHAIN: usize = 64;

/// A value as read: its version and JSON (both absent before its first write).
pub(super) type Stored = (Option<u64>, Option<Vec<u8>>);

/// Where the values live: read them, and compare-and-set them.
pub(super) trait Backend: Sync {
    /// The value of `key` as stored.
    fn read(&self, key: &ApiKey) -> impl Future<Output = Result<Stored, StoreError>> + Send;

    /// Writes `written` under version `new` if the value is still at `expected`
    /// (`None`: absent); `false` when another write came first. The command must be on
    /// its way when the future is first polled: commands polled one after another are
    /// carried out in that order.
    fn compare_and_set(
        &self,
        key: &ApiKey,
        expected: Option<u64>,
        written: Vec<u8>,
        new: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The versions a replica writes: a random start moved on by a counter (scrambled by
/// an odd multiplier), so two replicas' versions meet with a chance of about one in
/// 2^64 / writes; never 0, which stands for "absent".
#[derive(Debug)]
pub(super) struct Versions {
    nonce: u64,
    written: AtomicU64,
}

impl Versions {
    /// Versions starting at `nonce` (a random number per replica).
    pub(super) fn new(nonce: u64) -> Self {
        Self {
            nonce,
            written: AtomicU64::new(0),
        }
    }

    /// A version no write of this replica has used.
    pub(super) fn next(&self) -> u64 {
        loop {
            let n = self.written.fetch_add(1, Ordering::Relaxed);
            let v = self
                .nonce
                .wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            if v != 0 {
                return v;
            }
        }
    }
}

/// A value as a write leaves it: the version it was read at (then the one it was
/// written at), its JSON, the value itself (so the next writer need not parse it),
/// and, once sent, whether its compare-and-set landed (`None` until it is answered).
struct Change<T> {
    version: Option<u64>,
    written: Vec<u8>,
    value: T,
    landed: Option<watch::Receiver<Option<bool>>>,
}

/// What the writers of one value on this replica share, under their turn.
struct Turn<T> {
    /// The value as the last write sent leaves it (maybe not yet answered).
    last: Option<Change<T>>,
    /// The versions of the current chain: the one read, then each this replica wrote
    /// on top of it, each write built on the previous one (at most [`CHAIN`]).
    chain: VecDeque<u64>,
}

impl<T> Default for Turn<T> {
    fn default() -> Self {
        Self {
            last: None,
            chain: VecDeque::new(),
        }
    }
}

/// One value's writers on this replica: their turns, and the last write.
type Writer<T> = Arc<tokio::sync::Mutex<Turn<T>>>;

/// A change to apply (run again from a fresh read after a refusal).
pub(super) type Apply<'a, T> = &'a mut (dyn FnMut(&mut T) + Send);

/// One replica's writes of values of type `T`; see the module's comment.
pub(super) struct Writes<T> {
    writers: Mutex<HashMap<ApiKey, Writer<T>>>,
    /// The versions this replica writes under.
    pub(super) versions: Versions,
}

impl<T: Serialize + DeserializeOwned + Send> Writes<T> {
    /// A pipeline whose versions start at `nonce`.
    pub(super) fn new(nonce: u64) -> Self {
        Self {
            writers: Mutex::new(HashMap::new()),
            versions: Versions::new(nonce),
        }
    }

    /// Applies `apply` to the value of `key` (to `create()`'s when there is none, or to
    /// nothing when `create` is `None`), starting from `read` when the caller has read
    /// it already; whether there was a value to apply it to.
    pub(super) async fn apply(
        &self,
        backend: &impl Backend,
        key: &ApiKey,
        create: Option<&(dyn Fn() -> T + Sync)>,
        apply: Apply<'_, T>,
        read: Option<Stored>,
    ) -> Result<bool, StoreError> {
        // Without a lock first: most requests read and change nothing (one round trip,
        // or none after authentication's), and readers never wait on each other.
        let read = match read {
            Some(read) => read,
            None => backend.read(key).await?,
        };
        let exists = read.1.is_some() || create.is_some();
        let Some(change) = applied(create, apply, &read)? else {
            return Ok(exists);
        };
        // A change: this replica's writers of the value take turns, each building on
        // the write sent before it (see the module's comment). Replicas still race,
        // and the compare-and-set settles it.
        let turn = self.writer(key);
        let mut ready = Some(change);
        let mut refused = false;
        for _ in 0..MAX_ATTEMPTS {
            let mut t = turn.lock().await;
            let (change, chained) = match (refused, t.last.take(), ready.take()) {
                (false, Some(known), _) => match reapplied(known, apply)? {
                    Ok(change) => (Some(change), true),
                    Err(known) => {
                        // Nothing to change from the last write sent. If this update's
                        // read found a version of this chain, no other replica wrote
                        // since: the answer stands once that write has landed.
                        let trusted = read.0.is_some_and(|v| t.chain.contains(&v));
                        let landed = known.landed.clone();
                        t.last = Some(known);
                        if let (true, Some(mut landed)) = (trusted, landed) {
                            drop(t);
                            match landed.wait_for(Option::is_some).await.as_deref() {
                                Ok(Some(true)) => return Ok(true),
                                _ => {
                                    refused = true;
                                    continue;
                                }
                            }
                        }
                        (None, false)
                    }
                },
                // The first attempt, computed on this update's own read.
                (false, None, Some(change)) => (Some(change), false),
                // After a refusal: read afresh.
                _ => (None, false),
            };
            let change = match change {
                Some(change) => change,
                None => {
                    // Read after every write sent before it (one connection, in
                    // order): the value as it now is.
                    let read = backend.read(key).await?;
                    match applied(create, apply, &read)? {
                        Some(change) => change,
                        None => return Ok(read.1.is_some() || create.is_some()),
                    }
                }
            };
            let version = self.versions.next();
            if !chained {
                t.chain.clear();
                t.chain.extend(change.version);
            }
            t.chain.push_back(version);
            if t.chain.len() > CHAIN {
                t.chain.pop_front();
            }
            let (landed_tx, landed) = watch::channel(None);
            let mut cas =
                pin!(backend.compare_and_set(key, change.version, change.written.clone(), version));
            // Polled once under the turn: the command is queued before the next writer's.
            let first = poll_fn(|cx| Poll::Ready(cas.as_mut().poll(cx))).await;
            t.last = Some(Change {
                version: Some(version),
                landed: Some(landed),
                ..change
            });
            drop(t);
            let done = match first {
                Poll::Ready(done) => done,
                Poll::Pending => cas.await,
            };
            landed_tx.send_replace(Some(matches!(done, Ok(true))));
            if done? {
                return Ok(true);
            }
            refused = true;
        }
        Err(StoreError::Unavailable(format!(
            "the tenant {} changed {MAX_ATTEMPTS} times while one update was being applied",
            key.last4()
        )))
    }

    /// This replica's turn-taking for the writers of `key`, with the value as the last
    /// of them wrote it (a starting point the compare-and-set checks; dropped when one
    /// is refused, so the next reads afresh). At most [`KEPT_WRITERS`] values are kept;
    /// past that it starts afresh.
    fn writer(&self, key: &ApiKey) -> Writer<T> {
        let mut writers = lock(&self.writers);
        if writers.len() >= KEPT_WRITERS && !writers.contains_key(key) {
            writers.clear();
        }
        Arc::clone(writers.entry(key.clone()).or_default())
    }
}

/// `apply` run on the value as `read`: `None` when it changed nothing (or there is no
/// value and no `create`), else the change to write.
fn applied<T: Serialize + DeserializeOwned>(
    create: Option<&(dyn Fn() -> T + Sync)>,
    apply: Apply<'_, T>,
    (version, stored): &Stored,
) -> Result<Option<Change<T>>, StoreError> {
    let mut value = match (stored, create) {
        (Some(bytes), _) => serde_json::from_slice(bytes).map_err(corrupt)?,
        (None, Some(create)) => create(),
        (None, None) => return Ok(None),
    };
    let (written, changed) = run(apply, &mut value, stored.as_deref())?;
    Ok(changed.then_some(Change {
        version: *version,
        written,
        value,
        landed: None,
    }))
}

/// A change to write on top of the last write sent, or (`Err`) that write back.
type Reapplied<T> = Result<Change<T>, Change<T>>;

/// `apply` run on the value as the last write sent left it: the change to write on top
/// of it, or (`Err`) that write back when it changes nothing from there.
fn reapplied<T: Serialize>(
    known: Change<T>,
    apply: Apply<'_, T>,
) -> Result<Reapplied<T>, StoreError> {
    let Change {
        version,
        written: before,
        mut value,
        landed,
    } = known;
    let (written, changed) = run(apply, &mut value, Some(&before))?;
    let change = Change {
        version,
        written,
        value,
        landed: if changed { None } else { landed },
    };
    Ok(if changed { Ok(change) } else { Err(change) })
}

/// `apply` run on `value`, whose JSON was `before` (`None`: never written): its JSON
/// after, and whether that differs (the same JSON is the same value).
fn run<T: Serialize>(
    apply: Apply<'_, T>,
    value: &mut T,
    before: Option<&[u8]>,
) -> Result<(Vec<u8>, bool), StoreError> {
    apply(value);
    let written = serde_json::to_vec(value).map_err(corrupt)?;
    let changed = before != Some(written.as_slice());
    Ok((written, changed))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use futures_util::future::join_all;

    use super::*;

    /// Values in memory, with Redis's order: a compare-and-set is carried out when it is
    /// first polled; `slow`, it is answered only after a yield (so the next writer
    /// builds on it before its answer, as on a real connection).
    #[derive(Default)]
    struct Memory {
        values: Mutex<HashMap<ApiKey, (u64, Vec<u8>)>>,
        reads: AtomicUsize,
        sets: AtomicUsize,
        refusals: AtomicUsize,
        slow: bool,
    }

    impl Backend for Memory {
        async fn read(&self, key: &ApiKey) -> Result<Stored, StoreError> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            let v = lock(&self.values).get(key).cloned();
            Ok(v.map_or((None, None), |(v, t)| (Some(v), Some(t))))
        }

        async fn compare_and_set(
            &self,
            key: &ApiKey,
            expected: Option<u64>,
            written: Vec<u8>,
            new: u64,
        ) -> Result<bool, StoreError> {
            let set = {
                let mut values = lock(&self.values);
                let set = values.get(key).map(|(v, _)| *v) == expected;
                if set {
                    values.insert(key.clone(), (new, written));
                }
                set
            };
            let counter = if set { &self.sets } else { &self.refusals };
            counter.fetch_add(1, Ordering::Relaxed);
            if self.slow {
                tokio::task::yield_now().await;
            }
            Ok(set)
        }
    }

    impl Memory {
        fn slow() -> Self {
            Memory {
                slow: true,
                ..Memory::default()
            }
        }

        fn value(&self, key: &ApiKey) -> Vec<u32> {
            let values = lock(&self.values);
            values
                .get(key)
                .map_or_else(Vec::new, |(_, t)| serde_json::from_slice(t).unwrap())
        }

        fn count(counter: &AtomicUsize) -> usize {
            counter.load(Ordering::Relaxed)
        }
    }

    fn key() -> ApiKey {
        ApiKey::parse("rk_sandbox_write_pipeline_key_01").unwrap()
    }

    fn empty() -> Vec<u32> {
        Vec::new()
    }

    /// Appends `n` to the list (a change that never leaves it as it was).
    async fn push(writes: &Writes<Vec<u32>>, backend: &Memory, n: u32) -> bool {
        writes
            .apply(backend, &key(), Some(&empty), &mut |v| v.push(n), None)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_writes_of_one_replica_are_pipelined_and_all_land_without_a_refusal() {
        let backend = Memory::slow();
        let writes = Writes::new(7);
        let done = join_all((0..100).map(|n| push(&writes, &backend, n))).await;
        assert!(done.iter().all(|d| *d));
        let mut value = backend.value(&key());
        value.sort_unstable();
        assert_eq!(value, (0..100).collect::<Vec<_>>());
        // Each write built on the one sent before it: none was refused, none read again.
        assert_eq!(Memory::count(&backend.sets), 100);
        assert_eq!(Memory::count(&backend.refusals), 0);
        assert_eq!(
            Memory::count(&backend.reads),
            100,
            "one read each, no re-read"
        );
    }

    #[tokio::test]
    async fn two_replicas_writing_one_value_lose_nothing() {
        let backend = Memory::slow();
        let (a, b) = (Writes::new(1), Writes::new(u64::MAX / 3));
        let writers = (0..60).map(|n| {
            let replica = if n % 2 == 0 { &a } else { &b };
            push(replica, &backend, n)
        });
        assert!(join_all(writers).await.iter().all(|d| *d));
        let mut value = backend.value(&key());
        value.sort_unstable();
        assert_eq!(value, (0..60).collect::<Vec<_>>());
        assert_eq!(
            Memory::count(&backend.sets),
            60,
            "one landed write per update"
        );
    }

    #[tokio::test]
    async fn a_write_refused_because_another_replica_wrote_is_applied_again_on_a_fresh_read() {
        let backend = Memory::default();
        let (a, b) = (Writes::new(1), Writes::new(2));
        assert!(push(&a, &backend, 1).await);
        // `a` read the value, then `b` wrote before `a`'s write was sent.
        let stale = backend.read(&key()).await.unwrap();
        assert!(push(&b, &backend, 2).await);
        let applied = a
            .apply(
                &backend,
                &key(),
                Some(&empty),
                &mut |v| v.push(3),
                Some(stale),
            )
            .await
            .unwrap();
        assert!(applied);
        assert_eq!(backend.value(&key()), vec![1, 2, 3]);
        assert_eq!(Memory::count(&backend.refusals), 1);
    }

    #[tokio::test]
    async fn a_change_that_changes_nothing_writes_nothing() {
        let backend = Memory::default();
        let writes = Writes::new(3);
        assert!(push(&writes, &backend, 1).await);
        let found = writes
            .apply(&backend, &key(), Some(&empty), &mut |_| {}, None)
            .await
            .unwrap();
        assert!(found);
        assert_eq!(Memory::count(&backend.sets), 1);
    }

    #[tokio::test]
    async fn without_create_an_absent_value_is_left_absent() {
        let backend = Memory::default();
        let writes: Writes<Vec<u32>> = Writes::new(3);
        let found = writes
            .apply(&backend, &key(), None, &mut |v| v.push(1), None)
            .await
            .unwrap();
        assert!(!found);
        assert!(lock(&backend.values).is_empty());
    }

    #[tokio::test]
    async fn an_update_the_write_before_it_made_needless_answers_once_that_write_landed() {
        let backend = Memory::slow();
        let writes = Writes::new(5);
        assert!(push(&writes, &backend, 0).await);
        let read = backend.read(&key()).await.unwrap();
        let sets_before = Memory::count(&backend.sets);
        // Both read the same version and make the same change: the first writes it,
        // the second finds nothing left to change on top of it and waits for it.
        let set_to = |v: &mut Vec<u32>| *v = vec![9];
        let (mut first, mut second) = (set_to, set_to);
        let key = key();
        let (x, y) = tokio::join!(
            writes.apply(&backend, &key, Some(&empty), &mut first, Some(read.clone())),
            writes.apply(&backend, &key, Some(&empty), &mut second, Some(read)),
        );
        assert!(x.unwrap() && y.unwrap());
        assert_eq!(backend.value(&key), vec![9]);
        assert_eq!(
            Memory::count(&backend.sets),
            sets_before + 1,
            "written once"
        );
        assert_eq!(Memory::count(&backend.refusals), 0);
    }

    #[test]
    fn versions_are_never_zero_and_never_repeat() {
        // A start that would hand out 0 first skips it.
        assert_ne!(Versions::new(0).next(), 0);
        let versions = Versions::new(0x1234_5678);
        let drawn: std::collections::HashSet<u64> = (0..10_000).map(|_| versions.next()).collect();
        assert_eq!(drawn.len(), 10_000);
        assert!(!drawn.contains(&0));
    }

    #[test]
    fn the_writers_kept_are_bounded() {
        let writes: Writes<Vec<u32>> = Writes::new(1);
        for n in 0..KEPT_WRITERS + 10 {
            let key = ApiKey::parse(&format!("rk_sandbox_write_pipeline_{n:08}")).unwrap();
            writes.writer(&key);
        }
        assert!(lock(&writes.writers).len() <= KEPT_WRITERS);
    }
}
