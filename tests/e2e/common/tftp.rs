//! TFTP test helpers: deterministic test files, sha256, a `[tftp]` config, and
//! a minimal raw client for checking exact ERROR codes and OACK contents.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// Writes `size` bytes of deterministic pseudo-random content; returns its sha256 (hex).
pub fn make_file(path: &Path, size: usize, seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut data = Vec::with_capacity(size + 8);
    while data.len() < size {
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        data.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    data.truncate(size);
    std::fs::write(path, &data).expect("write test file");
    sha256_hex(&data)
}

/// sha256 of bytes, lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// sha256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> String {
    sha256_hex(&std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())))
}

/// A config with `[tftp]` on 127.0.0.1:`port` serving `root`, plus `extra` lines
/// inside the section.
pub fn config(root: &Path, port: u16, extra: &str) -> String {
    format!(
        "[general]\nstate_dir = \"state\"\n\n[tftp]\nlisten = [\"127.0.0.1:{port}\"]\nroot = \"{}\"\n{extra}\n",
        root.display()
    )
}

/// What a raw fetch ended with.
#[derive(Debug, PartialEq, Eq)]
pub enum Fetch {
    /// The file, and the OACK options if the server sent one.
    Data(Vec<u8>, Vec<(String, String)>),
    /// ERROR code and message.
    Error(u16, String),
}

fn req(op: u16, name: &[u8], opts: &[(&str, &str)]) -> Vec<u8> {
    let mut v = op.to_be_bytes().to_vec();
    v.extend_from_slice(name);
    v.push(0);
    v.extend_from_slice(b"octet\0");
    for (k, val) in opts {
        v.extend_from_slice(k.as_bytes());
        v.push(0);
        v.extend_from_slice(val.as_bytes());
        v.push(0);
    }
    v
}

fn strings(b: &[u8]) -> Vec<String> {
    b.split(|&c| c == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Fetches `name` (raw bytes, so NUL and odd names can be sent) with a
/// lock-step client; panics if the server goes silent for 5 s.
pub fn raw_get(server: SocketAddr, name: &[u8], opts: &[(&str, &str)]) -> Fetch {
    raw_get_from("127.0.0.1:0", server, name, opts)
}

/// Like [`raw_get`], from a chosen local address.
pub fn raw_get_from(local: &str, server: SocketAddr, name: &[u8], opts: &[(&str, &str)]) -> Fetch {
    let sock = UdpSocket::bind(local).expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    sock.send_to(&req(1, name, opts), server).expect("send RRQ");
    let mut buf = vec![0u8; 65536 + 4];
    let mut out = Vec::new();
    let mut oack = Vec::new();
    let mut blksize = 512;
    let mut expect: u16 = 1;
    loop {
        let (n, from) = sock.recv_from(&mut buf).expect("server answered");
        let pkt = &buf[..n];
        let op = u16::from_be_bytes([pkt[0], pkt[1]]);
        match op {
            5 => {
                let code = u16::from_be_bytes([pkt[2], pkt[3]]);
                return Fetch::Error(code, strings(&pkt[4..]).remove(0));
            }
            6 => {
                let s = strings(&pkt[2..]);
                for pair in s.chunks(2) {
                    if let [k, v] = pair {
                        if k == "blksize" {
                            blksize = v.parse().expect("blksize");
                        }
                        oack.push((k.clone(), v.clone()));
                    }
                }
                sock.send_to(&[0, 4, 0, 0], from).expect("ack oack");
            }
            3 => {
                let block = u16::from_be_bytes([pkt[2], pkt[3]]);
                let data = &pkt[4..];
                if block == expect {
                    out.extend_from_slice(data);
                    expect = expect.wrapping_add(1);
                }
                let mut ack = vec![0, 4];
                ack.extend_from_slice(&block.to_be_bytes());
                sock.send_to(&ack, from).expect("ack");
                if block == expect.wrapping_sub(1) && data.len() < blksize {
                    return Fetch::Data(out, oack);
                }
            }
            other => panic!("unexpected opcode {other}"),
        }
    }
}

/// Sends a WRQ for `name` and returns the first answer: `Ok(())` for ACK 0
/// or an OACK, `Err((code, message))` for an ERROR.
pub fn raw_put_start(
    server: SocketAddr,
    name: &[u8],
    opts: &[(&str, &str)],
) -> Result<(), (u16, String)> {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    sock.send_to(&req(2, name, opts), server).expect("send WRQ");
    let mut buf = [0u8; 1024];
    let (n, _) = sock.recv_from(&mut buf).expect("server answered");
    match u16::from_be_bytes([buf[0], buf[1]]) {
        4 | 6 => Ok(()),
        5 => Err((
            u16::from_be_bytes([buf[2], buf[3]]),
            strings(&buf[4..n]).remove(0),
        )),
        other => panic!("unexpected opcode {other}"),
    }
}
