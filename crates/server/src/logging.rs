//! Where log events go: tracing's formatter on standard error, as text or JSON lines (one
//! object per event, with the request span's id), filtered by `RUST_LOG` (default `info`).
//! Libraries' `log` records (r2d2, actix) arrive through the same formatter.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the process's subscriber; a second call (tests running servers in-process) keeps
/// the first.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    // Already installed: the first subscriber stays, which is what tests want.
    drop(installed);
}
