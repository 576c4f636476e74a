//! The hook that turns a rendered template into the bytes served, so a
//! template can produce a binary file (a DOCSIS config compiled with its
//! MICs) without this crate knowing the format: the binary provides a
//! [`Formatter`], as it provides the [`LeaseLookup`](crate::LeaseLookup).

use std::sync::Arc;

use crate::config::TemplateConfig;

/// One prepared output format (e.g. DOCSIS with its shared secret loaded).
pub trait OutputFormat: Send + Sync {
    /// The bytes to serve for `rendered`, or a reason to log (it must not
    /// contain secrets; the client sees only a short ERROR).
    fn apply(&self, rendered: &str) -> Result<Vec<u8>, String>;
}

/// Prepares the output format of each template at start and reload.
pub trait Formatter: Send + Sync {
    /// `Ok(None)` serves the rendered text as is; `Err` is a config error.
    fn prepare(&self, template: &TemplateConfig) -> Result<Option<Arc<dyn OutputFormat>>, String>;
}

/// The formatter used when the binary wires none: text only.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOnly;

impl Formatter for TextOnly {
    fn prepare(&self, template: &TemplateConfig) -> Result<Option<Arc<dyn OutputFormat>>, String> {
        match template.format.as_str() {
            "text" => Ok(None),
            other => Err(format!("format `{other}` is not available here")),
        }
    }
}
