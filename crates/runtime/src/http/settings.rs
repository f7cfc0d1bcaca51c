//! The API's limits from the server's configuration (paging, body size, bulk creates, the
//! cursor key), registered once as app data for the handlers.

use crate::http::cursor::CursorKey;
use crate::http::list::PageSettings;

use tenantapi_schema::api_rules::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_BULK_ITEMS, DEFAULT_MAX_READ_ROWS,
};

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
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_bulk_items: DEFAULT_MAX_BULK_ITEMS,
            max_read_rows: DEFAULT_MAX_READ_ROWS,
            cursor_key: CursorKey::random(),
        }
    }
}
