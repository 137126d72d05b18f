//! The state file: the world's snapshot, loaded at start and written atomically
//! (temporary file, fsync, rename) shortly after changes and on shutdown, so a crash at
//! any moment leaves either the old file or the new one, never a torn one.

use std::io::Write;
use std::path::Path;

use crate::sim::WorldState;

/// Reads the state file. `Ok(None)` when there is none yet; an unreadable or corrupt
/// file is an error, so a start never silently forgets the state.
pub fn load(path: &Path) -> Result<Option<WorldState>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "cannot read the state file {}: {e} (fix its permissions, or start with --reset-state to begin afresh)",
                path.display()
            ));
        }
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        format!(
            "the state file {} is not a valid state ({e}); start with --reset-state to discard it and begin from the fixture",
            path.display()
        )
    })
}

/// Writes the state file atomically.
pub fn save(path: &Path, state: &WorldState) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    // Make the rename itself durable; not every platform can open a directory.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Clock, SimConfig, Timestamp};
    use crate::store::{MemoryStore, Store};

    #[tokio::test]
    async fn round_trips_and_reports_corruption() {
        let dir = std::env::temp_dir().join(format!("revkeen-persist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        assert_eq!(load(&path), Ok(None));
        let s = MemoryStore::new(SimConfig::default(), Clock::frozen(Timestamp(5)));
        let snapshot = s.snapshot(None).await.unwrap();
        save(&path, &snapshot).unwrap();
        assert_eq!(load(&path).unwrap(), Some(snapshot));
        std::fs::write(&path, "{not json").unwrap();
        let e = load(&path).unwrap_err();
        assert!(
            e.contains("--reset-state") && e.contains("state.json"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
