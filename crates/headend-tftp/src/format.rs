//! The hook that turns a rendered template into the bytes served, so a
//! template can produce a binary file (a DOCSIS config compiled with its
//! MICs) without this crate knowing the format: the binary provides a
//! [`Formatter`], as it provides the [`LeaseLookup`](crate::LeaseLookup).

use std::sync::Arc;

use crate::config::TemplateConfig;

/// Why a rendered template could not be turned into its output format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// The line of the rendered text at fault, if known.
    pub line: Option<u32>,
    /// What is wrong (logged; it must not contain secrets).
    pub reason: String,
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// One prepared output format (e.g. DOCSIS with its shared secret loaded).
pub trait OutputFormat: Send + Sync {
    /// The bytes to serve for `rendered`; on error the client sees only a
    /// short TFTP ERROR and the error is logged and counted.
    fn apply(&self, rendered: &str) -> Result<Vec<u8>, FormatError>;
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
