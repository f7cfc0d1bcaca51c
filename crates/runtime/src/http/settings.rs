//! The API's limits from the server's configuration (paging, body size, bulk creates, the
//! cursor key), registered once as app data for the handlers.

use crate::http::cursor::CursorKey;
use crate::http::list::PageSettings;

/// Rows a bulk create may carry unless configured otherwise.
pub const DEFAULT_MAX_BULK_ITEMS: usize = 1000;

/// Limits from the server's configuration, registered once as `web::Data<ApiSettings>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSettings {
    pub pages: PageSettings,
    /// Request bodies larger than this are refused with 413.
    pub max_body_bytes: usize,
    /// Signs `?cursor=` positions.
    pub cursor_key: CursorKey,
    /// Rows one bulk create (a JSON list) may carry; more is 400.
    pub max_bulk_items: usize,
    /// Rows one read may produce, its page's and its expansions' together; more is 400.
    pub max_read_rows: usize,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            pages: PageSettings::default(),
            max_body_bytes: 1024 * 1024,
            max_bulk_items: DEFAULT_MAX_BULK_ITEMS,
            max_read_rows: crate::http::expand::DEFAULT_MAX_READ_ROWS,
            cursor_key: CursorKey::random(),
        }
    }
}
