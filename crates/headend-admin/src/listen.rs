//! The admin listener, sockets only: accept, admit (connection caps), TLS
//! handshake under a deadline, then HTTP/1.1 with a header-read deadline
//! and a stall deadline on the byte stream. The body deadline is a router
//! layer ([`crate::api`]); every decision about who may connect is in
//! [`crate::core::conns`].

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::ConnectInfo;

use crate::core::mtls::PeerCert;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Sleep;
use tower::ServiceExt as _;

use crate::config::ConnectionConfig;
use crate::core::conns::Admission;

/// The certificate in use; SIGHUP swaps it, new handshakes pick it up.
pub(crate) type TlsConfig = Arc<ArcSwap<ServerConfig>>;

/// A counted connection; releases its slot when dropped.
struct Slot {
    table: Arc<Mutex<Admission>>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut t = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        t.release(self.ip);
        metrics::gauge!("headend_admin_connections").set(t.open() as f64);
    }
}

/// Accepts connections until `stop` turns true, then lets open ones finish
/// their request (at most 5 s).
pub(crate) async fn run(
    listener: TcpListener,
    tls: TlsConfig,
    router: Router,
    limits: ConnectionConfig,
    stop: watch::Receiver<bool>,
) {
    let table = Arc::new(Mutex::new(Admission::new(
        limits.max_connections,
        limits.max_connections_per_source,
    )));
    let mut shutdown = stop.clone();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE/ENFILE: the budget check at start should make this
                // impossible; back off instead of spinning if it happens.
                tracing::warn!("admin API: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let admitted = {
            let mut t = table.lock().unwrap_or_else(PoisonError::into_inner);
            let r = t.admit(peer.ip());
            metrics::gauge!("headend_admin_connections").set(t.open() as f64);
            r
        };
        if let Err(why) = admitted {
            metrics::counter!("headend_admin_refused_total", "reason" => why.as_str()).increment(1);
            tracing::debug!(%peer, reason = why.as_str(), "admin API: connection closed at once");
            drop(tcp);
            continue;
        }
        let slot = Slot {
            table: Arc::clone(&table),
            ip: peer.ip(),
        };
        let conn = serve_one(
            tcp,
            peer,
            Arc::clone(&tls),
            router.clone(),
            limits.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            conn.await;
            drop(slot);
        });
    }
}

async fn serve_one(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: TlsConfig,
    router: Router,
    limits: ConnectionConfig,
    mut stop: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.load_full());
    let handshake = Duration::from_secs(limits.handshake_timeout_secs);
    let stream = match tokio::time::timeout(handshake, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            metrics::counter!("headend_admin_refused_total", "reason" => "tls").increment(1);
            tracing::debug!(%peer, "admin API: TLS handshake failed: {e}");
            return;
        }
        Err(_) => {
            metrics::counter!("headend_admin_timeouts_total", "phase" => "handshake").increment(1);
            tracing::debug!(%peer, "admin API: TLS handshake timed out");
            return;
        }
    };
    // The client's certificate (verified by rustls), for every request of
    // this connection.
    let peer_cert = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| PeerCert(Arc::new(c.to_vec())));
    let io = TokioIo::new(Stalled::new(
        stream,
        Duration::from_secs(limits.idle_timeout_secs),
    ));
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        if let Some(c) = &peer_cert {
            req.extensions_mut().insert(c.clone());
        }
        router.clone().oneshot(req)
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_timeout_secs))
        .keep_alive(true);
    let conn = http.serve_connection(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            match tokio::time::timeout(Duration::from_secs(5), conn.as_mut()).await {
                Ok(r) => r,
                Err(_) => Ok(()),
            }
        }
    };
    if let Err(e) = result {
        if e.is_timeout() {
            metrics::counter!("headend_admin_timeouts_total", "phase" => "header").increment(1);
            tracing::debug!(%peer, "admin API: request headers not received in time; closed");
        } else {
            tracing::debug!(%peer, "admin API connection ended: {e}");
        }
    }
}

/// A byte stream that fails with `TimedOut` when a read or write has waited
/// on the peer for `limit` without any byte moving (the peer stopped
/// sending a body, or stopped reading our answer).
struct Stalled<T> {
    inner: T,
    limit: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<T> Stalled<T> {
    fn new(inner: T, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            deadline: None,
        }
    }

    fn progress(&mut self) {
        self.deadline = None;
    }

    /// Called when the inner stream is not ready: fails once the stall deadline passed.
    fn waiting<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let limit = self.limit;
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if deadline.as_mut().poll(cx).is_ready() {
            metrics::counter!("headend_admin_timeouts_total", "phase" => "stalled").increment(1);
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no byte moved within the idle timeout",
            )));
        }
        Poll::Pending
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Stalled<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                self.progress();
                Poll::Ready(r)
            }
            Poll::Pending => self.waiting(cx),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Stalled<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                self.progress();
                Poll::Ready(r)
            }
            Poll::Pending => self.waiting(cx),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(r) => {
                self.progress();
                Poll::Ready(r)
            }
            Poll::Pending => self.waiting(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_shutdown(cx) {
            Poll::Ready(r) => {
                self.progress();
                Poll::Ready(r)
            }
            Poll::Pending => self.waiting(cx),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                self.progress();
                Poll::Ready(r)
            }
            Poll::Pending => self.waiting(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test(start_paused = true)]
    async fn a_read_that_waits_past_the_limit_fails() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut s = Stalled::new(a, Duration::from_secs(5));
        b.write_all(b"x").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(s.read(&mut buf).await.unwrap(), 1);
        let err = s.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        drop(b);
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_arriving_in_time_keep_the_stream_alive() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut s = Stalled::new(a, Duration::from_secs(5));
        let writer = tokio::spawn(async move {
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_secs(4)).await;
                b.write_all(b"y").await.unwrap();
            }
        });
        let mut buf = [0u8; 8];
        for _ in 0..4 {
            assert_eq!(s.read(&mut buf).await.unwrap(), 1);
        }
        writer.await.unwrap();
    }
}
