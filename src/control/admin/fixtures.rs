//! Fixtures: `POST /__mock/fixtures/{name}` loads a built-in fixture, or a file of
//! `--fixtures-dir`, by name (never by path), and resets go back to it.

use serde_json::Value;

use super::{Call, done};
use crate::control::{ControlError, fixture};
use crate::sim::lock;

/// The fixture operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `adminLoadFixture`.
    Load,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        (operation_id == "adminLoadFixture").then_some(Op::Load)
    }
}

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Value, ControlError> {
    let (control, store) = (call.control, call.store);
    match op {
        Op::Load => {
            let name = call.text("name");
            let f = fixture::named(name, control.fixtures_dir.as_deref())?;
            store.clear().await?;
            f.apply(store, call.now).await?;
            let source = f.source.clone();
            *lock(&control.fixture) = Some(f);
            if let Some(kept) = store.kept_control() {
                kept.keep(fixture::KEPT, name.as_bytes().to_vec()).await?;
            }
            done(format!("fixture {source} loaded"))
        }
    }
}
