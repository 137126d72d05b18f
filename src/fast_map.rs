//! The hash map of the request path.
//!
//! Four maps are read on every request: a worker's remembered sessions (by API key),
//! coverage's runs (by API key), a worker's rendered integrations (by id) and its
//! rendered sync-log pages. With the standard library's SipHash, hashing a 32-byte key
//! cost about 250 instructions a lookup, 650 a GET (3.5% of it, callgrind,
//! docs/performance.md). [`FastMap`] hashes with foldhash (the hasher hashbrown and
//! indexmap use by default, already in the tree under serde_json) seeded at random per
//! process: a few dozen instructions a key.
//!
//! SipHash's strength is resistance to chosen-key flooding; these maps do not need it:
//! every one is bounded (sessions and coverage keep admitted keys only, up to a cap;
//! rendered integrations are keyed by ids the simulator made), and the seed is random.
//! Maps filled from anything a stranger sends without a bound keep the standard hasher.

use std::collections::HashMap;

/// A `HashMap` hashed with foldhash, randomly seeded per process.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// An empty [`FastMap`].
pub fn fast_map<K, V>() -> FastMap<K, V> {
    HashMap::with_hasher(foldhash::fast::RandomState::default())
}
