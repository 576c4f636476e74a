//! DOCSIS cable modem and PacketCable MTA configuration files for headend.
//!
//! [`compile`] turns config text in the syntax of the open-source `docsis`
//! compiler (`Main { NetworkAccess 1; UsServiceFlow { ... } SnmpMibObject
//! sysName.0 String "cm"; }`) into the binary TLV file a modem fetches over
//! TFTP: settings encoded through a table-driven symbol table
//! ([`symtab::MAIN`]), SNMP objects in BER with symbolic OID names, long
//! values split as DOCSIS 3.0 prescribes, certificates read through a
//! [`FileSource`], then the CM MIC (MD5), the CMTS MIC (HMAC-MD5 with the
//! CMTS shared secret), the end-of-data marker and padding; or, for an MTA,
//! the TLV 254 delimiters and the SHA-1 configuration hash. [`decode`] splits
//! a binary file into TLVs with byte offsets for every error, renders it as
//! text that compiles back to the same bytes, and [`verify`] checks its MICs.
//!
//! It is sans-I/O: no files, sockets or clocks (the caller supplies DER
//! files through [`FileSource`]); it does not sign or check certificates.
//! The Extended CMTS MIC (TLV 43.6) is computed for HMAC type 1
//! (HMAC-MD5): an explicit digest (43.6.3) is written in place, without
//! one TLV 7 carries the extended digest; other HMAC types are refused.
//!
//! Layout: `text` (lexer and parser, positions), `symtab` (the table),
//! `snmp` (OIDs, names, BER varbinds), `encode` (settings → TLVs → sealed
//! file), `decode` (file → TLVs → text, MIC checks).

#![forbid(unsafe_code)]

pub mod decode;
pub mod encode;
pub mod snmp;
pub mod symtab;
pub mod text;

pub use decode::{Decoded, MicReport, Tlv, decode, verify};
pub use encode::{Options, compile};

/// What went wrong, with the line (text) or byte offset (binary) to look at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocsisError {
    /// The text is not well formed.
    #[error("line {line}, column {col}: {reason}")]
    Syntax {
        /// Line (1-based).
        line: u32,
        /// Column (1-based).
        col: u32,
        /// What is wrong.
        reason: String,
    },
    /// A setting is unknown or its value is invalid or out of range.
    #[error("line {line}, column {col}: {name}: {reason}")]
    Setting {
        /// Line (1-based).
        line: u32,
        /// Column (1-based).
        col: u32,
        /// The setting's name as written.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A file named in the text (a CVC) could not be read.
    #[error("line {line}: cannot read `{path}`: {reason}")]
    File {
        /// Line of the setting.
        line: u32,
        /// The path as written.
        path: String,
        /// Why.
        reason: String,
    },
    /// A binary file is malformed.
    #[error("byte offset {offset}: {reason}")]
    Decode {
        /// Offset of the problem in the file.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
}

impl DocsisError {
    /// The text line the error is on, if it is about text.
    pub fn line(&self) -> Option<u32> {
        match self {
            Self::Syntax { line, .. } | Self::Setting { line, .. } | Self::File { line, .. } => {
                Some(*line)
            }
            Self::Decode { .. } => None,
        }
    }
}

/// Where the compiler gets the files a config names (certificates).
pub trait FileSource {
    /// The contents of `path` as written in the config text.
    fn read(&self, path: &str) -> Result<Vec<u8>, String>;
}

/// A [`FileSource`] that has no files.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFiles;

impl FileSource for NoFiles {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("no file access here (`{path}`)"))
    }
}

#[cfg(test)]
mod tests;
