//! A memory store behind a shared handle.

use std::sync::{Arc, Mutex};

use hemlis::store::{Rows, StoreError, Table, Write};
use hemlis::{MemoryStore, Store};

use crate::lock;

/// A memory store behind a shared handle: a client "restarts" by opening a new handle,
/// finding the state exactly as the last commit left it; `snapshot` copies it.
#[derive(Clone, Default)]
pub struct SharedStore(Arc<Mutex<MemoryStore>>);

impl SharedStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding what `store` holds.
    pub fn from_snapshot(store: MemoryStore) -> Self {
        Self(Arc::new(Mutex::new(store)))
    }

    /// A copy of what the store holds now.
    pub fn snapshot(&self) -> MemoryStore {
        lock(&self.0).clone()
    }

    /// A new handle, boxed for a client.
    pub fn boxed(&self) -> Box<dyn Store> {
        Box::new(self.clone())
    }
}

impl Store for SharedStore {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        lock(&self.0).get(table, key)
    }
    fn scan(&self, table: Table) -> Result<Rows, StoreError> {
        lock(&self.0).scan(table)
    }
    fn commit(&mut self, writes: Vec<Write>) -> Result<(), StoreError> {
        lock(&self.0).commit(writes)
    }
}
