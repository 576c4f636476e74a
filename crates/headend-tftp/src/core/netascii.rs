//! Netascii translation (RFC 1350 §1 referring to RFC 764): on the wire a line
//! ends in CR LF and a bare CR is sent as CR NUL.

/// Translates local text (LF line ends) to netascii.
pub fn encode(data: &[u8]) -> Vec<u8> {
    let extra = data.iter().filter(|&&b| b == b'\n' || b == b'\r').count();
    let mut out = Vec::with_capacity(data.len() + extra);
    for &b in data {
        match b {
            b'\n' => out.extend_from_slice(b"\r\n"),
            b'\r' => out.extend_from_slice(b"\r\0"),
            other => out.push(other),
        }
    }
    out
}

/// Translates netascii back to local text, block by block (a CR may end one
/// block and its LF or NUL start the next).
#[derive(Debug, Default)]
pub struct Decoder {
    pending_cr: bool,
}

impl Decoder {
    /// Decodes one chunk, appending to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        for &b in data {
            if self.pending_cr {
                self.pending_cr = false;
                match b {
                    b'\n' => {
                        out.push(b'\n');
                        continue;
                    }
                    0 => {
                        out.push(b'\r');
                        continue;
                    }
                    _ => out.push(b'\r'),
                }
            }
            if b == b'\r' {
                self.pending_cr = true;
            } else {
                out.push(b);
            }
        }
    }

    /// Flushes a trailing CR at the end of the transfer.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) {
            out.push(b'\r');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_and_bare_cr_are_translated() {
        assert_eq!(encode(b"a\nb\rc"), b"a\r\nb\r\0c");
    }

    #[test]
    fn decoding_undoes_encoding_across_block_boundaries() {
        let text = b"line1\nline2\r\n\rend\r";
        let wire = encode(text);
        for split in 0..wire.len() {
            let mut d = Decoder::default();
            let mut out = Vec::new();
            d.feed(&wire[..split], &mut out);
            d.feed(&wire[split..], &mut out);
            d.finish(&mut out);
            assert_eq!(out, text, "split at {split}");
        }
    }
}
