//! What a read's `expand`, `fields` and `omit` make of its rows, done once, on the read's
//! blocking thread and inside its unit of work: the rows are parsed once, expanded within the
//! read's row bound, cut to the selected fields and written once; with expansions, the read and
//! the reads they add see one snapshot. Large answers give the memory they took back to the
//! operating system afterwards.

use serde_json::Value;

use crate::connections::db::DbConnection;
use crate::connections::transaction::read_in_one_snapshot;
use crate::data::meta::TableMeta;
use crate::data::table_ops::TableOps;
use crate::http::error::ApiError;
use crate::http::expand::{self, Expansions};
use crate::http::selection::{self, FieldSelection};

/// Answers at least this large are followed by giving freed memory back (`malloc_trim`): their
/// parsed rows took ten times their size, spread over the allocator's per-thread arenas, which
/// otherwise keep it (measured: 220 MiB kept after six reads of 3.6 MiB at once).
const RELEASE_AFTER_BYTES: usize = 1 << 20;

/// A read's `expand`, `fields` and `omit`, parsed from its query string.
#[derive(Clone, Default)]
pub struct Shaping {
    expansions: Option<Expansions>,
    selection: Option<FieldSelection>,
    /// Rows the read may produce, its own and its expansions' (`api.max_read_rows`).
    max_rows: usize,
}

impl Shaping {
    /// 400 for unknown relations or fields and paths too deep, naming them.
    pub fn parse(
        meta: &'static TableMeta,
        all: &[&'static TableOps],
        pairs: &[(String, String)],
        max_rows: usize,
    ) -> Result<Shaping, ApiError> {
        Ok(Shaping {
            expansions: expand::parse(meta, all, pairs)?,
            selection: selection::parse(meta, all, pairs)?,
            max_rows,
        })
    }

    /// Runs `read` (which reads rows and shapes them) in one snapshot when expansions add reads
    /// of their own; as it is otherwise.
    pub fn read<T>(
        &self,
        connection: &mut DbConnection,
        read: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        match self.expansions {
            Some(_) => read_in_one_snapshot(connection, read),
            None => read(connection),
        }
    }

    /// A JSON array of rows, shaped.
    pub fn rows(&self, connection: &mut DbConnection, json: String) -> Result<String, ApiError> {
        if self.expansions.is_none() && self.selection.is_none() {
            return Ok(json);
        }
        let mut rows: Vec<Value> = serde_json::from_str(&json)
            .map_err(|error| ApiError::internal("reading served rows", error))?;
        drop(json);
        self.shape(connection, &mut rows)?;
        let json = serde_json::to_string(&rows)
            .map_err(|error| ApiError::internal("row serialization", error))?;
        drop(rows);
        release_after(json.len());
        Ok(json)
    }

    /// One row (a JSON object), shaped.
    pub fn row(&self, connection: &mut DbConnection, json: String) -> Result<String, ApiError> {
        if self.expansions.is_none() && self.selection.is_none() {
            return Ok(json);
        }
        let row: Value = serde_json::from_str(&json)
            .map_err(|error| ApiError::internal("reading a served row", error))?;
        let mut rows = vec![row];
        self.shape(connection, &mut rows)?;
        let json = serde_json::to_string(&rows[0])
            .map_err(|error| ApiError::internal("row serialization", error))?;
        drop(rows);
        release_after(json.len());
        Ok(json)
    }

    fn shape(&self, connection: &mut DbConnection, rows: &mut [Value]) -> Result<(), ApiError> {
        if let Some(expansions) = &self.expansions {
            let expanded = expansions.expand(connection, rows, self.max_rows);
            if let Err(ApiError::TooManyRows { .. }) = &expanded {
                // Refused after reading up to the bound: as much memory as the largest answer.
                release_after(RELEASE_AFTER_BYTES);
            }
            expanded?;
        }
        if let Some(selection) = &self.selection {
            for row in rows.iter_mut() {
                if let Value::Object(fields) = row {
                    selection.select(fields);
                }
            }
        }
        Ok(())
    }
}

/// Gives the memory a large answer took back to the operating system, where the allocator
/// keeps freed memory per thread (glibc).
fn release_after(answer_bytes: usize) {
    if answer_bytes < RELEASE_AFTER_BYTES {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's heaps; it takes no pointer
    // and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
