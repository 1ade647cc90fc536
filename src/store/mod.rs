//! Durable state (docs/ARCHITECTURE.md, section 4; docs/PROTOCOL.md, section 12.3): a transactional
//! key-value store of opaque records.
//!
//! The client seals every record (XChaCha20-Poly1305 under the app's storage key, with the
//! table and row key as associated data) before a store sees it, so any implementation,
//! including one an app brings, holds ciphertext only.

pub(crate) mod backend;
pub(crate) mod memory;
pub(crate) mod sqlite;

pub(crate) use backend::Store;

use thiserror::Error;

/// The tables of the client's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Table {
    /// Counters and the storage-key check record.
    Meta,
    /// The device account (identity, prekeys, replay record).
    Account,
    /// Sessions and trust per peer device, keyed by the encoded address.
    Peers,
    /// Envelopes committed for sending, keyed by a big-endian sequence number.
    Outbox,
    /// Decrypted messages not yet taken by the app, keyed by a big-endian sequence number.
    Inbox,
}

impl Table {
    /// The table's number in a backend and in associated data.
    pub fn id(self) -> u8 {
        match self {
            Table::Meta => 1,
            Table::Account => 2,
            Table::Peers => 3,
            Table::Outbox => 4,
            Table::Inbox => 5,
        }
    }
}

/// One write of an atomic batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Inserts or replaces a record.
    Put {
        /// The table.
        table: Table,
        /// The row key.
        key: Vec<u8>,
        /// The (sealed) record.
        value: Vec<u8>,
    },
    /// Deletes a record if present.
    Delete {
        /// The table.
        table: Table,
        /// The row key.
        key: Vec<u8>,
    },
}

/// A storage backend failure.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend failed (I/O, a full disk, a locked or corrupt database).
    #[error("storage backend failed: {0}")]
    Backend(String),
    /// The database was written by a newer release with a schema this one cannot read.
    #[error("unsupported storage schema version {0}")]
    UnsupportedSchema(i64),
}

/// The rows of a table: `(key, record)` pairs, ordered by key.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryStore, SqliteStore};

    /// Every backend lists the same keys as its scan, in order, for that table only.
    fn keys_match_scan(store: &mut dyn Store) {
        let put = |table, key: &[u8], value: &[u8]| Write::Put {
            table,
            key: key.to_vec(),
            value: value.to_vec(),
        };
        store
            .commit(vec![
                put(Table::Outbox, &[0, 2], b"b"),
                put(Table::Outbox, &[0, 1], b"a"),
                put(Table::Inbox, &[0, 1], b"other table"),
                put(Table::Peers, &[9], b"other table"),
            ])
            .unwrap();
        let keys = store.keys(Table::Outbox).unwrap();
        assert_eq!(keys, vec![vec![0, 1], vec![0, 2]]);
        let scanned: Vec<_> = store
            .scan(Table::Outbox)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, scanned);
        assert!(store.keys(Table::Meta).unwrap().is_empty());
    }

    #[test]
    fn memory_store_lists_keys_as_it_scans() {
        keys_match_scan(&mut MemoryStore::new());
    }

    #[test]
    fn sqlite_store_lists_keys_as_it_scans() {
        keys_match_scan(&mut SqliteStore::open_in_memory().unwrap());
    }
}
