//! The accept loop: serves the router on a bound TCP listener, over plain HTTP or TLS, with
//! the connection-level limits that axum's `serve` does not expose.
//!
//! Each accepted connection gets `TCP_NODELAY` (without it the last chunk of a streamed reply
//! waits for the client's delayed ACK: ~44 ms per tool call on loopback), a slot from a
//! connection cap, a TLS handshake with a deadline when TLS is on, and a hyper connection
//! (HTTP/1.1 and HTTP/2) with a header-read timeout and a cap on the header block. Shutdown
//! stops accepting at once and gives in-flight requests a deadline to finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::http::client_addr::TrustedProxies;
use crate::http::tls::TlsReloader;

/// Connection-level limits.
#[derive(Debug, Clone)]
pub struct ListenLimits {
    /// How long a client may take to send a request's headers (slowloris defence).
    pub header_read_timeout: Duration,
    /// The largest header block (request line plus headers) accepted, in bytes.
    pub max_header_bytes: usize,
    /// Connections served at once; further ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// Connections one address may hold at once (trusted proxies are exempt); more are closed.
    pub max_connections_per_ip: usize,
    /// Requests one HTTP/2 connection may run at once.
    pub max_h2_streams: u32,
    /// How long a TLS handshake may take.
    pub tls_handshake_timeout: Duration,
    /// How long in-flight requests get to finish after shutdown begins.
    pub shutdown_deadline: Duration,
}

impl ListenLimits {
    /// The limits sessiongate serves with.
    pub fn standard() -> Self {
        ListenLimits {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            max_connections: 1024,
            max_connections_per_ip: 64,
            max_h2_streams: 32,
            tls_handshake_timeout: Duration::from_secs(10),
            shutdown_deadline: Duration::from_secs(10),
        }
    }
}

/// Serves `app` on `listener` until `ct` is cancelled, then lets in-flight requests finish
/// within the shutdown deadline. With `tls`, every connection is TLS (HTTP/2 by ALPN).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<TlsReloader>>,
    limits: ListenLimits,
    exempt: TrustedProxies,
    ct: CancellationToken,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(limits.max_header_bytes as u32)
        .max_concurrent_streams(limits.max_h2_streams)
        // A peer that stops answering pings is gone: free its slot.
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20));
    let h1_only = Arc::new(builder.clone().http1_only());
    let h2_only = Arc::new(builder.clone().http2_only());
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = Arc::new(PerIp::default());
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = ct.cancelled() => break,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(err) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = ct.cancelled() => break,
        };
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::warn!(error = %err, "could not set TCP_NODELAY");
        }
        let ip_slot = if exempt.trusts(peer.ip()) {
            None
        } else {
            match per_ip.take(peer.ip(), limits.max_connections_per_ip) {
                Some(slot) => Some(slot),
                None => {
                    tracing::info!(%peer, "too many connections from this address; closed");
                    continue;
                }
            }
        };
        let app = app.clone();
        let builder = builder.clone();
        let (h1_only, h2_only) = (h1_only.clone(), h2_only.clone());
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let handshake_timeout = limits.tls_handshake_timeout;
        let header_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let _ip_slot = ip_slot;
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(req.map(axum::body::Body::new))
            });
            match tls {
                None => {
                    // hyper reads the first bytes (HTTP/1 or the HTTP/2 preface) with no
                    // deadline of its own: a client that connects and says nothing would
                    // hold its slot for ever.
                    if !first_bytes_arrive(&tcp, header_timeout).await {
                        tracing::debug!(%peer, "closed a connection that sent no request");
                        return;
                    }
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), svc);
                    if let Err(err) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(%peer, error = %err, "connection ended with an error");
                    }
                }
                Some(tls) => {
                    let Some(stream) = handshake(&tls, tcp, peer, handshake_timeout).await else {
                        return;
                    };
                    // ALPN already chose the protocol: serve only that one, so that the
                    // HTTP/1 header timeout runs from the start (the auto builder would
                    // first wait, without a deadline, for bytes to sniff).
                    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                    let io = TokioIo::new(stream);
                    let result = if h2 {
                        watcher
                            .watch(h2_only.serve_connection_with_upgrades(io, svc).into_owned())
                            .await
                    } else {
                        watcher
                            .watch(h1_only.serve_connection_with_upgrades(io, svc).into_owned())
                            .await
                    };
                    if let Err(err) = result {
                        tracing::debug!(%peer, error = %err, "connection ended with an error");
                    }
                }
            }
        });
    }
    drop(listener);
    tracing::info!("stopped accepting connections; finishing in-flight requests");
    if tokio::time::timeout(limits.shutdown_deadline, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            deadline_s = limits.shutdown_deadline.as_secs(),
            "in-flight requests did not finish within the shutdown deadline; closing them"
        );
    }
    Ok(())
}

/// Waits until the client has sent enough to tell HTTP/1 from HTTP/2 (24 bytes, or a first
/// byte that cannot start the HTTP/2 preface), for at most `deadline`.
async fn first_bytes_arrive(tcp: &TcpStream, deadline: Duration) -> bool {
    const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let sniff = async {
        let mut buf = [0u8; 24];
        loop {
            match tcp.peek(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) if n >= H2_PREFACE.len() || buf[..n] != H2_PREFACE[..n] => return true,
                // A prefix of the preface: wait for more.
                Ok(_) => {
                    if tcp.readable().await.is_err() {
                        return false;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    };
    tokio::time::timeout(deadline, sniff).await.unwrap_or(false)
}

/// Connections held per address.
#[derive(Debug, Default)]
struct PerIp(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

/// One connection's hold on its address's count; released when dropped.
struct IpSlot(Arc<PerIp>, std::net::IpAddr);

impl PerIp {
    fn take(self: &Arc<Self>, ip: std::net::IpAddr, max: usize) -> Option<IpSlot> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot(self.clone(), ip))
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = (self.0).0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.1);
            }
        }
    }
}

async fn handshake(
    tls: &TlsReloader,
    tcp: TcpStream,
    peer: SocketAddr,
    deadline: Duration,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let acceptor = tls.acceptor();
    match tokio::time::timeout(deadline, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(err)) => {
            tracing::debug!(%peer, error = %err, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}
