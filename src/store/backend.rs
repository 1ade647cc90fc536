//! The storage backend an app brings or picks (docs/ARCHITECTURE.md, section 4;
//! docs/PROTOCOL.md, section 12.3): the [`Store`] trait, exported at the crate root.

use super::{Rows, StoreError, Table, Write};

/// A transactional key-value store of opaque records.
pub trait Store: Send {
    /// One record.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// All records of a table, ordered by key.
    fn scan(&self, table: Table) -> Result<Rows, StoreError>;
    /// The keys of a table, ordered by key, without reading the records. The default reads
    /// them through [`Store::scan`]; a backend that can list keys alone should.
    fn keys(&self, table: Table) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self.scan(table)?.into_iter().map(|(key, _)| key).collect())
    }
    /// Applies all writes atomically: all of them or, on error, none.
    fn commit(&mut self, writes: Vec<Write>) -> Result<(), StoreError>;
}
