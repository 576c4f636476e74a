//! The RFC 868 time server that DHCP option 4 points cable modems at:
//! DOCSIS modems ask it for the time of day before they fetch their config
//! file, and log errors without it. Off unless `[time]` is in the config.
//!
//! ```toml
//! [time]
//! listen = ["0.0.0.0:37"]   # UDP and TCP on each address
//! ```
//!
//! The core is [`time_value`], a pure function of the clock. The sockets are
//! thin: a UDP thread answers every datagram with the four octets, a TCP
//! thread writes them to each accepted connection and closes it (a write
//! timeout bounds a slow peer; no connection outlives its accept, so the
//! service holds at most one descriptor per listener plus one).

use std::io::Write;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

/// Seconds from 1900-01-01T00:00Z (RFC 868's epoch) to 1970-01-01T00:00Z.
pub const EPOCH_OFFSET: u64 = 2_208_988_800;

/// A slow TCP peer gets this long to take four octets.
const TCP_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// How often the socket threads look at the stop flag.
const POLL: Duration = Duration::from_millis(200);

/// `[time]`: the RFC 868 time server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeConfig {
    /// Addresses to serve on, UDP and TCP each (port 37 is the standard one).
    #[serde(default = "default_listen")]
    pub listen: Vec<SocketAddr>,
}

fn default_listen() -> Vec<SocketAddr> {
    vec![SocketAddr::from(([0, 0, 0, 0], 37))]
}

impl TimeConfig {
    /// Checks the section without opening anything.
    pub fn validate(&self) -> Result<(), TimeError> {
        if self.listen.is_empty() {
            return Err(TimeError::Config {
                key: "time.listen".into(),
                reason: "lists no address; remove [time] to turn the time server off".into(),
            });
        }
        Ok(())
    }
}

/// What can go wrong configuring or starting the time server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// A value in `[time]` is wrong.
    #[error("{key}: {reason}")]
    Config {
        /// The config key at fault.
        key: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A socket could not be opened.
    #[error(
        "cannot {action} the time server's {proto} socket on {addr}: {source}{}", headend_util::bind_hint(addr.port(), source)
    )]
    Socket {
        /// What was being done.
        action: &'static str,
        /// `UDP` or `TCP`.
        proto: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// RFC 868: "The time is the number of seconds since 00:00 (midnight) 1
/// January 1900 GMT", as a 32-bit binary number; it wraps in 2036 (the
/// value is taken modulo 2^32, as NTP's era 1 does). A clock before 1970
/// reads as 1970.
pub fn time_value(now: SystemTime) -> [u8; 4] {
    let unix = headend_util::time::since_epoch(now).as_secs();
    let secs = unix.wrapping_add(EPOCH_OFFSET) & 0xffff_ffff;
    u32::try_from(secs).unwrap_or(0).to_be_bytes()
}

/// Requests answered, by transport.
#[derive(Debug, Default)]
struct Counters {
    udp: AtomicU64,
    tcp: AtomicU64,
}

/// The counters of a running time server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimeStats {
    /// UDP datagrams answered.
    pub udp: u64,
    /// TCP connections answered.
    pub tcp: u64,
}

/// Starts the time server.
#[derive(Debug)]
pub struct TimeService;

/// A cloneable handle to the running time server.
#[derive(Debug, Clone)]
pub struct TimeHandle {
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
}

impl TimeHandle {
    /// Requests answered so far.
    pub fn stats(&self) -> TimeStats {
        TimeStats {
            udp: self.counters.udp.load(Ordering::Relaxed),
            tcp: self.counters.tcp.load(Ordering::Relaxed),
        }
    }

    /// Stops the socket threads (within a fraction of a second).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn socket_error(
    action: &'static str,
    proto: &'static str,
    addr: SocketAddr,
) -> impl FnOnce(std::io::Error) -> TimeError {
    move |source| TimeError::Socket {
        action,
        proto,
        addr,
        source,
    }
}

impl TimeService {
    /// Binds every address (UDP and TCP) and starts one thread per socket.
    pub fn start(config: &TimeConfig) -> Result<TimeHandle, TimeError> {
        config.validate()?;
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut sockets = Vec::new();
        for addr in &config.listen {
            let udp = UdpSocket::bind(addr).map_err(socket_error("bind", "UDP", *addr))?;
            udp.set_read_timeout(Some(POLL))
                .map_err(socket_error("configure", "UDP", *addr))?;
            let tcp = TcpListener::bind(addr).map_err(socket_error("bind", "TCP", *addr))?;
            tcp.set_nonblocking(true)
                .map_err(socket_error("configure", "TCP", *addr))?;
            sockets.push((*addr, udp, tcp));
        }
        for (addr, udp, tcp) in sockets {
            let (c, s) = (counters.clone(), stop.clone());
            std::thread::Builder::new()
                .name("time-udp".into())
                .spawn(move || serve_udp(&udp, &c, &s))
                .map_err(socket_error("start a thread for", "UDP", addr))?;
            let (c, s) = (counters.clone(), stop.clone());
            std::thread::Builder::new()
                .name("time-tcp".into())
                .spawn(move || serve_tcp(&tcp, &c, &s))
                .map_err(socket_error("start a thread for", "TCP", addr))?;
            tracing::info!(%addr, "time server (RFC 868) listening on UDP and TCP");
        }
        Ok(TimeHandle { counters, stop })
    }
}

/// RFC 868, UDP: "Listen on port 37. Receive an empty datagram ... Send a
/// datagram containing the time as a 32 bit binary number." Any datagram
/// is taken as the request; the answer is never larger than 4 octets.
fn serve_udp(sock: &UdpSocket, counters: &Counters, stop: &AtomicBool) {
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::Relaxed) {
        match sock.recv_from(&mut buf) {
            Ok((_, peer)) => {
                if let Err(e) = sock.send_to(&time_value(SystemTime::now()), peer) {
                    tracing::debug!(%peer, "time server: UDP send failed: {e}");
                } else {
                    counters.udp.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => tracing::debug!("time server: UDP receive failed: {e}"),
        }
    }
}

/// RFC 868, TCP: "Listen on port 37. Connect to port 37. Send the time as a
/// 32 bit binary number. Close the connection."
fn serve_tcp(listener: &TcpListener, counters: &Counters, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((mut conn, peer)) => {
                let sent = conn
                    .set_nonblocking(false)
                    .and_then(|()| conn.set_write_timeout(Some(TCP_WRITE_TIMEOUT)))
                    .and_then(|()| conn.write_all(&time_value(SystemTime::now())));
                match sent {
                    Ok(()) => {
                        counters.tcp.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => tracing::debug!(%peer, "time server: TCP send failed: {e}"),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(POLL / 4),
            Err(e) => {
                tracing::debug!("time server: TCP accept failed: {e}");
                std::thread::sleep(POLL / 4);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_epoch_is_2208988800() {
        // RFC 868's table: 1970-01-01T00:00Z is 2,208,988,800.
        assert_eq!(
            time_value(SystemTime::UNIX_EPOCH),
            2_208_988_800u32.to_be_bytes()
        );
    }

    #[test]
    fn rfc_868_examples() {
        // RFC 868: 1976-01-01T00:00Z is 2,398,291,200 (its own example table).
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(189_302_400);
        assert_eq!(time_value(t), 2_398_291_200u32.to_be_bytes());
    }

    #[test]
    fn the_value_wraps_in_2036() {
        // 2036-02-07T06:28:16Z is 2^32 seconds after 1900: it reads 0.
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs((1u64 << 32) - EPOCH_OFFSET);
        assert_eq!(time_value(t), [0, 0, 0, 0]);
        assert_eq!(time_value(t + Duration::from_secs(5)), 5u32.to_be_bytes());
    }

    #[test]
    fn an_empty_listen_list_is_refused() {
        let c = TimeConfig { listen: vec![] };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("time.listen")
        );
    }

    #[test]
    fn udp_and_tcp_answer_on_loopback() {
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let Ok(handle) = TimeService::start(&TimeConfig { listen: vec![addr] }) else {
            // The port was taken between the probe and the bind; nothing to test.
            return;
        };
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client.send_to(&[], addr).unwrap();
        let mut buf = [0u8; 8];
        let (n, _) = client.recv_from(&mut buf).unwrap();
        assert_eq!(n, 4);
        let expect = headend_util::time::unix_now() + EPOCH_OFFSET;
        let got = u64::from(u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]));
        assert!(got.abs_diff(expect & 0xffff_ffff) <= 2, "{got} vs {expect}");

        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut all = Vec::new();
        std::io::Read::read_to_end(&mut conn, &mut all).unwrap();
        assert_eq!(all.len(), 4);
        let got = u64::from(u32::from_be_bytes([all[0], all[1], all[2], all[3]]));
        assert!(got.abs_diff(expect & 0xffff_ffff) <= 2);
        // The UDP thread counts its answer after sending it: the client may
        // have read it first.
        let want = TimeStats { udp: 1, tcp: 1 };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while handle.stats() != want && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(handle.stats(), want);
        handle.stop();
    }
}
