//! Thin UDP and TCP listeners around [`Catalog::respond`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::answer::{Catalog, Transport};
use crate::{DnsConfig, DnsError};

/// Binds every configured address (UDP and TCP) and spawns the listener tasks.
pub(crate) fn spawn_listeners(
    config: &DnsConfig,
    catalog: Arc<ArcSwap<Catalog>>,
) -> Result<(Vec<JoinHandle<()>>, Vec<SocketAddr>), DnsError> {
    let mut tasks = Vec::new();
    let mut bound = Vec::new();
    let connections = Arc::new(Semaphore::new(config.tcp_max_connections.max(1)));
    let idle = Duration::from_secs(config.tcp_idle_timeout_secs.max(1));
    for &addr in &config.listen {
        let workers = if addr.port() == 0 {
            1
        } else {
            config.udp_workers.max(1)
        };
        for _ in 0..workers {
            let socket = udp_socket(addr, workers > 1).map_err(|source| DnsError::Bind {
                addr,
                proto: "udp",
                source,
            })?;
            bound.push(socket.local_addr().unwrap_or(addr));
            tasks.push(tokio::spawn(serve_udp(socket, Arc::clone(&catalog))));
        }
        let listener = tcp_listener(addr).map_err(|source| DnsError::Bind {
            addr,
            proto: "tcp",
            source,
        })?;
        tasks.push(tokio::spawn(serve_tcp(
            listener,
            Arc::clone(&catalog),
            Arc::clone(&connections),
            idle,
        )));
    }
    Ok((tasks, bound))
}

fn udp_socket(addr: SocketAddr, reuse_port: bool) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    // A burst of queries should queue in the kernel, not be dropped.
    let _ = socket.set_recv_buffer_size(4 << 20);
    let _ = socket.set_send_buffer_size(4 << 20);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

fn tcp_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

async fn serve_udp(socket: UdpSocket, catalog: Arc<ArcSwap<Catalog>>) {
    let mut buf = vec![0u8; 65535];
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                // ICMP errors from earlier sends surface here; keep serving.
                tracing::debug!("udp receive error: {e}");
                continue;
            }
        };
        let Some(request) = buf.get(..len) else {
            continue;
        };
        let response = catalog.load().respond(request, Transport::Udp);
        if let Some(response) = response {
            if let Err(e) = socket.send_to(&response, peer).await {
                tracing::debug!("udp send to {peer} failed: {e}");
            }
        }
    }
}

async fn serve_tcp(
    listener: TcpListener,
    catalog: Arc<ArcSwap<Catalog>>,
    connections: Arc<Semaphore>,
    idle: Duration,
) {
    loop {
        // Bounded: at most tcp_max_connections are served at once; the rest wait
        // in the kernel's backlog.
        let Ok(permit) = Arc::clone(&connections).acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("tcp accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let catalog = Arc::clone(&catalog);
        tokio::spawn(async move {
            if let Err(e) = serve_tcp_connection(stream, &catalog, idle).await {
                tracing::debug!("tcp connection from {peer}: {e}");
            }
            drop(permit);
        });
    }
}

/// RFC 1035 §4.2.2 / RFC 7766: two-byte length-prefixed messages, several per
/// connection, closed after `idle` without a request.
async fn serve_tcp_connection(
    mut stream: TcpStream,
    catalog: &ArcSwap<Catalog>,
    idle: Duration,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 65535];
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(idle, stream.read_exact(&mut len)).await {
            Err(_) => return Ok(()),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(r) => r?,
        };
        let len = usize::from(u16::from_be_bytes(len));
        let Some(request) = buf.get_mut(..len) else {
            return Ok(());
        };
        tokio::time::timeout(idle, stream.read_exact(request))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "idle"))??;
        let Some(response) = catalog.load().respond(request, Transport::Tcp) else {
            continue;
        };
        let Ok(rlen) = u16::try_from(response.len()) else {
            continue;
        };
        let mut out = Vec::with_capacity(response.len() + 2);
        out.extend_from_slice(&rlen.to_be_bytes());
        out.extend_from_slice(&response);
        stream.write_all(&out).await?;
    }
}
