//! The embedded default store (docs/ARCHITECTURE.md, section 4; docs/PROTOCOL.md, section 12.3): one
//! SQLite file per device, WAL journal, full fsync, one transaction per commit.
//!
//! Schema version 1 (`PRAGMA user_version`):
//! `records(tbl INTEGER, k BLOB, v BLOB, PRIMARY KEY (tbl, k)) WITHOUT ROWID`.
//! Deleted records are overwritten on disk (`secure_delete`).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Rows, Store, StoreError, Table, Write};

/// The schema this release writes.
const SCHEMA_VERSION: i64 = 1;

/// A store in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Opens or creates the database at `path` and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(backend)?;
        Self::setup(conn)
    }

    /// A database in memory (for tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::setup(Connection::open_in_memory().map_err(backend)?)
    }

    fn setup(conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL").map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(backend)?;
        conn.pragma_update(None, "secure_delete", "ON").map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        let mut store = Self { conn };
        store.migrate()?;
        Ok(store)
    }

    /// Migrations, one step per schema version.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(backend)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::UnsupportedSchema(version));
        }
        if version < 1 {
            let tx = self.conn.transaction().map_err(backend)?;
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS records (
                     tbl INTEGER NOT NULL,
                     k BLOB NOT NULL,
                     v BLOB NOT NULL,
                     PRIMARY KEY (tbl, k)
                 ) WITHOUT ROWID;
                 PRAGMA user_version = 1;",
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
        }
        Ok(())
    }
}

impl Store for SqliteStore {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .prepare_cached("SELECT v FROM records WHERE tbl = ?1 AND k = ?2")
            .map_err(backend)?
            .query_row(params![table.id(), key], |row| row.get(0))
            .optional()
            .map_err(backend)
    }

    fn scan(&self, table: Table) -> Result<Rows, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT k, v FROM records WHERE tbl = ?1 ORDER BY k")
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![table.id()], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn keys(&self, table: Table) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT k FROM records WHERE tbl = ?1 ORDER BY k")
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![table.id()], |row| row.get(0))
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn commit(&mut self, writes: Vec<Write>) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(backend)?;
        {
            let mut put = tx
                .prepare_cached("INSERT OR REPLACE INTO records (tbl, k, v) VALUES (?1, ?2, ?3)")
                .map_err(backend)?;
            let mut delete = tx
                .prepare_cached("DELETE FROM records WHERE tbl = ?1 AND k = ?2")
                .map_err(backend)?;
            for write in &writes {
                match write {
                    Write::Put { table, key, value } => put.execute(params![table.id(), key, value]),
                    Write::Delete { table, key } => delete.execute(params![table.id(), key]),
                }
                .map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)
    }
}
