//! A store in memory, for tests (docs/PROTOCOL.md, section 12.3).

use std::collections::BTreeMap;

use super::{Rows, Store, StoreError, Table, Write};

/// Records in a map; `commit` applies a batch all at once. Cloning copies the state, which
/// lets a test "restart" a client from the state at any moment.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    records: BTreeMap<(Table, Vec<u8>), Vec<u8>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every record, for tests that inspect what is stored.
    pub fn records(&self) -> impl Iterator<Item = (&(Table, Vec<u8>), &Vec<u8>)> {
        self.records.iter()
    }
}

impl Store for MemoryStore {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.records.get(&(table, key.to_vec())).cloned())
    }

    fn scan(&self, table: Table) -> Result<Rows, StoreError> {
        Ok(self
            .records
            .range((table, Vec::new())..)
            .take_while(|((t, _), _)| *t == table)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn keys(&self, table: Table) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self
            .records
            .range((table, Vec::new())..)
            .take_while(|((t, _), _)| *t == table)
            .map(|((_, k), _)| k.clone())
            .collect())
    }

    fn commit(&mut self, writes: Vec<Write>) -> Result<(), StoreError> {
        for write in writes {
            match write {
                Write::Put { table, key, value } => {
                    self.records.insert((table, key), value);
                }
                Write::Delete { table, key } => {
                    self.records.remove(&(table, key));
                }
            }
        }
        Ok(())
    }
}
