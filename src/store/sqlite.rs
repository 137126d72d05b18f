//! The database behind `serve --store sqlite:PATH`: the memory store's tenants, keys,
//! clock and kept control state written through to an embedded SQLite database
//! (`rusqlite` with SQLite bundled, WAL mode), one row per tenant, so that a write
//! costs the same with 10 tenants or 100,000 and an answer is sent only once its
//! change is committed.
//!
//! Reads are served from memory (the memory store's maps, loaded from the database at
//! start); the database is written, never read, while serving. Why SQLite and not
//! redb or fjall: docs/persistence.md.
//!
//! # Group commit
//!
//! One thread owns the connection. Writers send their changes down a channel, each
//! numbered under the channel's lock, so numbers follow the channel's order; the
//! thread takes every change waiting (up to [`MAX_BATCH`]), writes them in one
//! transaction, commits, and publishes the last number committed. A writer waits
//! until that number reaches its own. Concurrent writers thus share one commit, and
//! while one commit runs, the next batch gathers.
//!
//! # Durability
//!
//! With `synchronous=NORMAL` (the default) a commit is in the write-ahead log before
//! it is acknowledged: it survives the process dying (`kill -9`, a crash, the OOM
//! killer), not a power loss or a kernel crash, which may lose the last commits.
//! `synchronous=FULL` (`--sqlite-synchronous full`) syncs the log on every commit and
//! survives those too, at the disk's fsync rate shared by each batch.
//!
//! # Failure
//!
//! A commit that fails (a full disk, a file removed under the process) breaks the
//! database: the writers of that batch and every later call get
//! `StoreError::Unavailable` (the API's 503) until the process is restarted on the
//! database, which holds exactly what was acknowledged.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};

use rusqlite::{Connection, OpenFlags, params};

use super::StoreError;
use crate::sim::{ApiKey, Clock, DeclaredKey, IdempotencyStore, Merchant, Tenant, WorldState};

/// `PRAGMA application_id` of a revkeen-mock database ("RKMK"): a database of another
/// program is recognized and left alone.
const APPLICATION_ID: i32 = 0x524b_4d4b;

/// `PRAGMA user_version`: the schema's version.
const SCHEMA_VERSION: i32 = 1;

/// The schema (docs/persistence.md shows how to read it with `sqlite3`). Tenant rows
/// are kilobytes, so `tenants` keeps its rowid (a `WITHOUT ROWID` table stores a row
/// that large in overflow pages: the database was twice the size); the small rows of
/// `keys` and `meta` do without.
const SCHEMA: &str = "
CREATE TABLE tenants (
    key TEXT PRIMARY KEY,          -- the sandbox API key
    merchant TEXT NOT NULL,        -- the merchant as JSON (the snapshot's format)
    idempotency TEXT NOT NULL      -- remembered Idempotency-Keys as JSON
);
CREATE TABLE keys (
    key TEXT PRIMARY KEY,          -- a key a fixture declared
    scopes TEXT NOT NULL,          -- its scopes, a JSON list
    revoked INTEGER NOT NULL       -- 1 when revoked
) WITHOUT ROWID;
CREATE TABLE meta (
    name TEXT PRIMARY KEY,         -- clock, faults, fixture
    value TEXT NOT NULL            -- JSON (fixture: the fixture's name or path)
) WITHOUT ROWID;
";

/// The most changes one transaction takes.
const MAX_BATCH: usize = 4096;

/// How a commit is made durable (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// Survives the process dying; a power loss may lose the last commits.
    #[default]
    Normal,
    /// Survives a power loss too (the log is synced on every commit).
    Full,
}

impl std::str::FromStr for Synchronous {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "normal" | "NORMAL" => Ok(Synchronous::Normal),
            "full" | "FULL" => Ok(Synchronous::Full),
            other => Err(format!("--sqlite-synchronous {other}: use normal or full")),
        }
    }
}

/// Changes to commit as one, with their number.
type Numbered = (u64, Vec<Change>);

/// One change for the database.
#[derive(Debug)]
pub(super) enum Change {
    /// A tenant's row, written whole.
    Tenant {
        key: String,
        merchant: String,
        idempotency: String,
    },
    /// A tenant forgotten.
    ForgetTenant(String),
    /// A declared key.
    Key {
        key: String,
        scopes: String,
        revoked: bool,
    },
    /// A declared key forgotten.
    ForgetKey(String),
    /// A named value of `meta`: the clock, the fault book, the fixture's name.
    Meta { name: String, value: String },
    /// Every tenant and declared key forgotten.
    Clear,
}

/// A tenant as its row was last written, and that write's number: the memory store
/// keeps it beside the tenant to tell whether an update changed anything worth a
/// write (a read that ran nothing due changes nothing). The rate-limit bucket is not
/// compared or kept: it is transient, as in snapshots.
#[derive(Debug)]
pub(super) struct Written {
    merchant: Merchant,
    idempotency: IdempotencyStore,
    seq: u64,
}

/// What opening a database found, for the caller to act on and say.
#[derive(Debug)]
pub struct Opened {
    /// The database held nothing yet (new, or reset): the start fixture is applied.
    pub new: bool,
    /// A JSON state file was found at the path and imported; kept here.
    pub imported_from: Option<PathBuf>,
}

/// What the database held at start.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The clock (`None`: a new database).
    pub clock: Option<Clock>,
    /// Declared keys.
    pub keys: Vec<DeclaredKey>,
    /// Tenants.
    pub tenants: Vec<(ApiKey, Tenant)>,
    /// The control plane's kept values (`faults`, `fixture`).
    pub control: BTreeMap<String, Vec<u8>>,
    /// A JSON state file found at the path and imported (the caller says so).
    pub imported_from: Option<PathBuf>,
}

impl Loaded {
    /// Whether the database held nothing yet (a new one, or one just reset): the start
    /// fixture is then applied.
    pub fn is_new(&self) -> bool {
        self.clock.is_none()
    }
}

/// The database and its committing thread; see the module's comment.
pub struct Database {
    /// The numbered channel to the committing thread: the next number and the sender,
    /// under one lock so that numbers follow the channel's order.
    sender: Mutex<Option<(u64, mpsc::Sender<Numbered>)>>,
    /// The last number committed, for writers to wait on.
    committed: tokio::sync::watch::Receiver<u64>,
    /// The same number, read without a lock on every read's fast path (a watch
    /// channel's value sits behind a lock both workers would take on every request).
    committed_now: Arc<AtomicU64>,
    /// Why the database broke (a commit failed), once it has.
    broken: Arc<OnceLock<String>>,
    /// The committing thread, joined by [`Database::close`].
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Held (locked) while the process uses the database: a second process on the
    /// same file would serve a copy of its own and overwrite the first's rows.
    _lock: File,
    /// The database's path, for messages.
    path: PathBuf,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A message for a database that cannot be used, naming the path and what to do.
fn refused(path: &Path, why: impl std::fmt::Display) -> String {
    format!("cannot use the state database {}: {why}", path.display())
}

impl Database {
    /// Opens (or creates) the database at `path` and reads what it holds; with `reset`,
    /// empties it first (a valid revkeen-mock database only). A file that is not one
    /// (another program's database, a damaged file) is refused and left as it is; a
    /// JSON state file of earlier versions is imported once (kept beside it as
    /// `PATH.json.bak`).
    pub fn open(path: &Path, sync: Synchronous, reset: bool) -> Result<(Self, Loaded), String> {
        let imported = import_json_state(path, reset)?;
        let lock = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| refused(path, e))?;
        lock.try_lock().map_err(|_| {
            refused(
                path,
                "another revkeen-mock process is using it (one process per database; replicas share a state through --store redis://)",
            )
        })?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(|e| refused(path, e))?;
        check_or_create_schema(&conn, path)?;
        let synchronous = match sync {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA busy_timeout = 5000;"
        ))
        .map_err(|e| refused(path, e))?;
        if reset || imported.is_some() {
            conn.execute_batch("DELETE FROM tenants; DELETE FROM keys; DELETE FROM meta;")
                .map_err(|e| refused(path, e))?;
        }
        if let Some((state, _)) = &imported {
            let mut changes = Vec::new();
            state_changes(state, &mut changes).map_err(|e| refused(path, e))?;
            write_batch(&mut conn, &[(0, changes)]).map_err(|e| refused(path, e))?;
        }
        let mut loaded = load(&conn, path)?;
        loaded.imported_from = imported.map(|(_, backup)| backup);
        if loaded.is_new() {
            // The clock marks a database as started: a restart then serves what it
            // holds instead of applying the start fixture again (`loaded` still says
            // new, for this start).
            let start = clock_change(&Clock::default()).map_err(|e| refused(path, e))?;
            write_batch(&mut conn, &[(0, vec![start])]).map_err(|e| refused(path, e))?;
        }

        let (tx, rx) = mpsc::channel::<Numbered>();
        let (done, committed) = tokio::sync::watch::channel(0u64);
        let committed_now = Arc::new(AtomicU64::new(0));
        let broken = Arc::new(OnceLock::new());
        let thread = {
            let broken = Arc::clone(&broken);
            let progress = Progress {
                now: Arc::clone(&committed_now),
                done,
            };
            let at = path.to_owned();
            std::thread::Builder::new()
                .name("sqlite-commit".into())
                .spawn(move || commit_loop(conn, &rx, &progress, &broken, &at))
                .map_err(|e| refused(path, e))?
        };
        Ok((
            Database {
                sender: Mutex::new(Some((0, tx))),
                committed,
                committed_now,
                broken,
                thread: Mutex::new(Some(thread)),
                _lock: lock,
                path: path.to_owned(),
            },
            loaded,
        ))
    }

    /// Sends `changes` to be committed as one transaction; its number, to wait for
    /// with [`Database::durable`].
    pub(super) fn send(&self, changes: Vec<Change>) -> Result<u64, StoreError> {
        self.usable()?;
        let mut sender = crate::sim::lock(&self.sender);
        let Some((next, tx)) = sender.as_mut() else {
            return Err(self.closed());
        };
        *next += 1;
        let seq = *next;
        tx.send((seq, changes)).map_err(|_| self.closed())?;
        Ok(seq)
    }

    /// Sends `tenant`'s row when it differs from what was last written (`written`,
    /// updated); the number to wait for before answering (the last write's, when
    /// nothing changed: an answer never shows what is not yet durable).
    pub(super) fn write_tenant(
        &self,
        key: &ApiKey,
        tenant: &Tenant,
        written: &mut Option<Box<Written>>,
    ) -> Result<u64, StoreError> {
        if let Some(w) = written.as_deref()
            && w.merchant == tenant.merchant
            && w.idempotency == tenant.idempotency
        {
            return Ok(w.seq);
        }
        let change = tenant_change(key, &tenant.merchant, &tenant.idempotency)?;
        let seq = self.send(vec![change])?;
        *written = Some(Box::new(Written {
            merchant: tenant.merchant.clone(),
            idempotency: tenant.idempotency.clone(),
            seq,
        }));
        Ok(seq)
    }

    /// What a tenant loaded from the database was last written as.
    pub(super) fn written_at_start(tenant: &Tenant) -> Box<Written> {
        Box::new(Written {
            merchant: tenant.merchant.clone(),
            idempotency: tenant.idempotency.clone(),
            seq: 0,
        })
    }

    /// Whether the change numbered `seq` is committed (an error once the database is
    /// broken).
    pub(super) fn is_durable(&self, seq: u64) -> Result<bool, StoreError> {
        self.usable()?;
        Ok(self.committed_now.load(Ordering::Acquire) >= seq)
    }

    /// Resolves once the change numbered `seq` is committed.
    pub(super) async fn durable(&self, seq: u64) -> Result<(), StoreError> {
        let mut committed = self.committed.clone();
        let reached = committed.wait_for(|c| *c >= seq).await.map(|_| ());
        self.usable()?;
        reached.map_err(|_| self.closed())
    }

    /// Sends `changes` and waits until they are committed.
    pub(super) async fn commit(&self, changes: Vec<Change>) -> Result<(), StoreError> {
        let seq = self.send(changes)?;
        self.durable(seq).await
    }

    /// An error once the database is broken.
    pub(super) fn usable(&self) -> Result<(), StoreError> {
        match self.broken.get() {
            None => Ok(()),
            Some(why) => Err(StoreError::Unavailable(format!(
                "the state database {} cannot be written ({why}); restart the mock on it",
                self.path.display()
            ))),
        }
    }

    fn closed(&self) -> StoreError {
        StoreError::Unavailable(format!(
            "the state database {} is closed (the mock is stopping)",
            self.path.display()
        ))
    }

    /// Commits what was sent, then stops the committing thread: nothing sent before is
    /// lost. Later writes are refused.
    pub fn close(&self) {
        drop(crate::sim::lock(&self.sender).take());
        if let Some(thread) = crate::sim::lock(&self.thread).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        self.close();
    }
}

/// A tenant's row.
pub(super) fn tenant_change(
    key: &ApiKey,
    merchant: &Merchant,
    idempotency: &IdempotencyStore,
) -> Result<Change, StoreError> {
    let json = |what: &str, r: serde_json::Result<String>| {
        r.map_err(|e| StoreError::Invalid(format!("{what} cannot be written as JSON: {e}")))
    };
    Ok(Change::Tenant {
        key: key.as_str().to_owned(),
        merchant: json("a merchant", serde_json::to_string(merchant))?,
        idempotency: json("idempotency keys", serde_json::to_string(idempotency))?,
    })
}

/// A declared key's row.
pub(super) fn key_change(key: &DeclaredKey) -> Result<Change, StoreError> {
    Ok(Change::Key {
        key: key.key.as_str().to_owned(),
        scopes: serde_json::to_string(&key.scopes)
            .map_err(|e| StoreError::Invalid(e.to_string()))?,
        revoked: key.revoked,
    })
}

/// The clock's row.
pub(super) fn clock_change(clock: &Clock) -> Result<Change, StoreError> {
    Ok(Change::Meta {
        name: "clock".into(),
        value: serde_json::to_string(clock).map_err(|e| StoreError::Invalid(e.to_string()))?,
    })
}

/// The changes that replace a whole database with `state`.
pub(super) fn state_changes(state: &WorldState, out: &mut Vec<Change>) -> Result<(), StoreError> {
    out.push(Change::Clear);
    out.push(clock_change(&state.clock)?);
    for k in &state.keys {
        out.push(key_change(k)?);
    }
    let none = IdempotencyStore::default();
    for (key, merchant) in &state.merchants {
        out.push(tenant_change(key, merchant, &none)?);
    }
    Ok(())
}

/// Reads a JSON state file of earlier versions found at `path`, if that is what is
/// there, and moves it aside (`PATH.json.bak`) so the database can take its place;
/// with `reset` it is only moved aside.
fn import_json_state(path: &Path, reset: bool) -> Result<Option<(WorldState, PathBuf)>, String> {
    let Ok(mut file) = File::open(path) else {
        return Ok(None);
    };
    let mut head = [0u8; 16];
    let n = std::io::Read::read(&mut file, &mut head).unwrap_or(0);
    if head[..n]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_none_or(|b| *b != b'{')
    {
        return Ok(None);
    }
    let state = if reset {
        None
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| refused(path, e))?;
        let state: WorldState = serde_json::from_str(&text).map_err(|e| {
            refused(
                path,
                format!("it holds JSON that is not a revkeen-mock state ({e}); it was not changed: move it away, or start with --reset-state to discard it"),
            )
        })?;
        if let Some(why) = state.unrestorable() {
            return Err(refused(path, why));
        }
        Some(state)
    };
    let mut backup = path.as_os_str().to_owned();
    backup.push(".json.bak");
    let backup = PathBuf::from(backup);
    std::fs::rename(path, &backup).map_err(|e| refused(path, e))?;
    Ok(Some((state.unwrap_or_else(empty_state), backup)))
}

fn empty_state() -> WorldState {
    WorldState {
        version: WorldState::VERSION,
        clock: Clock::default(),
        keys: Vec::new(),
        merchants: BTreeMap::new(),
        redacted: false,
    }
}

/// Checks that the database is revkeen-mock's (or empty, then creates the schema).
fn check_or_create_schema(conn: &Connection, path: &Path) -> Result<(), String> {
    let not_a_database = |e: rusqlite::Error| {
        refused(
            path,
            format!(
                "it is not an SQLite database, nor a JSON state file to import ({e}); it was not changed: move it away or pick another path"
            ),
        )
    };
    let application_id: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(not_a_database)?;
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(not_a_database)?;
    match (application_id, objects) {
        (APPLICATION_ID, _) => {
            let version: i32 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(|e| refused(path, e))?;
            if version != SCHEMA_VERSION {
                return Err(refused(
                    path,
                    format!("its schema is version {version}, this mock reads version {SCHEMA_VERSION}; it was not changed"),
                ));
            }
            Ok(())
        }
        (0, 0) => conn
            .execute_batch(&format!(
                "BEGIN; {SCHEMA} PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(|e| refused(path, e)),
        _ => Err(refused(
            path,
            "it is an SQLite database of another program (not revkeen-mock's); it was not changed: pick another path",
        )),
    }
}

/// Reads every row.
fn load(conn: &Connection, path: &Path) -> Result<Loaded, String> {
    let damaged = |what: String| {
        refused(
            path,
            format!(
                "{what}; start with --reset-state to discard the saved state and begin from the fixture"
            ),
        )
    };
    let sql = |e: rusqlite::Error| refused(path, e);
    let mut loaded = Loaded::default();
    let mut meta = conn.prepare("SELECT name, value FROM meta").map_err(sql)?;
    let rows = meta
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(sql)?;
    for row in rows {
        let (name, value) = row.map_err(sql)?;
        if name == "clock" {
            loaded.clock = Some(
                serde_json::from_str(&value)
                    .map_err(|e| damaged(format!("its clock is damaged ({e})")))?,
            );
        } else {
            loaded.control.insert(name, value.into_bytes());
        }
    }
    let mut keys = conn
        .prepare("SELECT key, scopes, revoked FROM keys")
        .map_err(sql)?;
    let rows = keys
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
            ))
        })
        .map_err(sql)?;
    for row in rows {
        let (key, scopes, revoked) = row.map_err(sql)?;
        let parsed = ApiKey::parse(&key)
            .map_err(|e| e.to_string())
            .and_then(|k| Ok((k, serde_json::from_str(&scopes).map_err(|e| e.to_string())?)))
            .map_err(|e| damaged(format!("the declared key row {key:?} is damaged ({e})")))?;
        loaded.keys.push(DeclaredKey {
            key: parsed.0,
            scopes: parsed.1,
            revoked,
        });
    }
    let mut tenants = conn
        .prepare("SELECT key, merchant, idempotency FROM tenants")
        .map_err(sql)?;
    let rows = tenants
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(sql)?;
    for row in rows {
        let (key, merchant, idempotency) = row.map_err(sql)?;
        let tenant = (|| -> Result<(ApiKey, Tenant), String> {
            let k = ApiKey::parse(&key).map_err(|e| e.to_string())?;
            let mut t = Tenant::with(serde_json::from_str(&merchant).map_err(|e| e.to_string())?);
            t.idempotency = serde_json::from_str(&idempotency).map_err(|e| e.to_string())?;
            Ok((k, t))
        })()
        .map_err(|e| damaged(format!("the tenant row of {key:?} is damaged ({e})")))?;
        loaded.tenants.push(tenant);
    }
    Ok(loaded)
}

/// Where the committing thread publishes the last number committed: an atomic for the
/// fast path, a watch channel for the writers that wait.
struct Progress {
    now: Arc<AtomicU64>,
    done: tokio::sync::watch::Sender<u64>,
}

/// The committing thread: see the module's comment.
fn commit_loop(
    mut conn: Connection,
    rx: &mpsc::Receiver<Numbered>,
    progress: &Progress,
    broken: &OnceLock<String>,
    path: &Path,
) {
    let mut batch = Vec::new();
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        let last = batch.last().map_or(0, |(seq, _)| *seq);
        if broken.get().is_none()
            && let Err(e) = write_batch(&mut conn, &batch)
        {
            tracing::error!(error = %e, database = %path.display(), "a commit failed: the mock answers 503 until it is restarted");
            let _ = broken.set(e.to_string());
        }
        batch.clear();
        progress.now.store(last, Ordering::Release);
        progress.done.send_replace(last);
    }
    // Every sender is gone: what was sent is committed. Fold the log into the database
    // so the file alone holds the state.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
}

/// Writes `batch` as one transaction.
fn write_batch(conn: &mut Connection, batch: &[Numbered]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut put_tenant = tx.prepare(
            "INSERT INTO tenants (key, merchant, idempotency) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET merchant = excluded.merchant, idempotency = excluded.idempotency",
        )?;
        let mut put_key = tx.prepare(
            "INSERT INTO keys (key, scopes, revoked) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET scopes = excluded.scopes, revoked = excluded.revoked",
        )?;
        let mut put_meta = tx.prepare(
            "INSERT INTO meta (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )?;
        for change in batch.iter().flat_map(|(_, changes)| changes) {
            match change {
                Change::Tenant {
                    key,
                    merchant,
                    idempotency,
                } => {
                    put_tenant.execute(params![key, merchant, idempotency])?;
                }
                Change::ForgetTenant(key) => {
                    tx.execute("DELETE FROM tenants WHERE key = ?1", [key])?;
                }
                Change::Key {
                    key,
                    scopes,
                    revoked,
                } => {
                    put_key.execute(params![key, scopes, revoked])?;
                }
                Change::ForgetKey(key) => {
                    tx.execute("DELETE FROM keys WHERE key = ?1", [key])?;
                }
                Change::Meta { name, value } => {
                    put_meta.execute(params![name, value])?;
                }
                Change::Clear => {
                    tx.execute_batch("DELETE FROM tenants; DELETE FROM keys;")?;
                }
            }
        }
    }
    tx.commit()
}

/// Reads one kept value of `meta` (tests).
#[cfg(test)]
fn meta_value(path: &Path, name: &str) -> Option<String> {
    use rusqlite::OptionalExtension;
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{SimConfig, Timestamp};

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "revkeen-sqlite-{name}-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("state.db")
    }

    fn key(n: u32) -> ApiKey {
        ApiKey::parse(&format!("rk_sandbox_sqlite_unit_test_{n:06}")).unwrap()
    }

    #[tokio::test]
    async fn rows_written_are_read_back_after_a_reopen() {
        let path = temp("reopen");
        let (db, loaded) = Database::open(&path, Synchronous::Normal, false).unwrap();
        assert!(loaded.is_new());
        let tenant = Tenant::new(&SimConfig::default(), &key(1));
        let mut written = None;
        let seq = db.write_tenant(&key(1), &tenant, &mut written).unwrap();
        assert_eq!(
            db.write_tenant(&key(1), &tenant, &mut written).unwrap(),
            seq,
            "an unchanged tenant is not written again"
        );
        db.commit(vec![clock_change(&Clock::frozen(Timestamp(7))).unwrap()])
            .await
            .unwrap();
        assert!(db.is_durable(seq).unwrap());
        drop(db);
        let (_db, loaded) = Database::open(&path, Synchronous::Normal, false).unwrap();
        assert_eq!(loaded.clock, Some(Clock::frozen(Timestamp(7))));
        assert_eq!(loaded.tenants.len(), 1);
        assert_eq!(loaded.tenants[0].0, key(1));
        assert_eq!(loaded.tenants[0].1.merchant, tenant.merchant);
    }

    #[test]
    fn a_second_process_on_the_same_database_is_refused() {
        let path = temp("lock");
        let (_db, _) = Database::open(&path, Synchronous::Normal, false).unwrap();
        let e = Database::open(&path, Synchronous::Normal, false).unwrap_err();
        assert!(e.contains("another revkeen-mock process"), "{e}");
    }

    #[test]
    fn foreign_and_damaged_files_are_refused_and_left_unchanged() {
        let path = temp("foreign");
        let other = Connection::open(&path).unwrap();
        other
            .execute_batch("CREATE TABLE invoices (id INTEGER); INSERT INTO invoices VALUES (1);")
            .unwrap();
        drop(other);
        let before = std::fs::read(&path).unwrap();
        for reset in [false, true] {
            let e = Database::open(&path, Synchronous::Normal, reset).unwrap_err();
            assert!(e.contains("another program"), "{e}");
        }
        assert_eq!(std::fs::read(&path).unwrap(), before);

        let path = temp("damaged");
        let garbage = b"SQLite format 3\0this is not really a database".repeat(40);
        std::fs::write(&path, &garbage).unwrap();
        let e = Database::open(&path, Synchronous::Normal, true).unwrap_err();
        assert!(e.contains("not an SQLite database"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }

    #[test]
    fn a_json_state_file_is_imported_once_and_kept_aside() {
        let path = temp("import");
        let mut state = empty_state();
        state.clock = Clock::frozen(Timestamp(42));
        state
            .merchants
            .insert(key(2), Tenant::new(&SimConfig::default(), &key(2)).merchant);
        std::fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
        let (db, loaded) = Database::open(&path, Synchronous::Normal, false).unwrap();
        assert_eq!(loaded.clock, Some(Clock::frozen(Timestamp(42))));
        assert_eq!(loaded.tenants.len(), 1);
        let backup = loaded.imported_from.unwrap();
        assert!(backup.to_string_lossy().ends_with("state.db.json.bak"));
        assert!(backup.exists());
        drop(db);
        let (_db, again) = Database::open(&path, Synchronous::Normal, false).unwrap();
        assert!(again.imported_from.is_none(), "imported once");
        assert_eq!(again.tenants.len(), 1);
        assert_eq!(
            meta_value(&path, "clock").as_deref(),
            Some(&*serde_json::to_string(&Clock::frozen(Timestamp(42))).unwrap())
        );
    }
}
