//! A TCP proxy in front of a server, for clients that must see the network fail: it cuts every
//! open connection on demand, and keeps the head of every request that passes through it; in
//! front of several servers it is a round-robin load balancer that passes over those not
//! listening. And [`free_port`], for an address where nothing listens.

use std::sync::{Arc, Mutex};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::AbortHandle,
};

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP proxy on `127.0.0.1` in front of a server.
pub struct Proxy {
    pub port: u16,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
    heads: Arc<Mutex<Vec<String>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Forwards to `127.0.0.1:<upstream>` (which may come and go: a connection made while
    /// nothing listens there is closed).
    pub async fn start(upstream: u16) -> Self {
        Self::balance(vec![upstream]).await
    }

    /// A load balancer: each connection goes to the next of `upstreams` in turn, or, when
    /// nothing listens there (a node killed), to the one after it; closed when none listens.
    pub async fn balance(upstreams: Vec<u16>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let (list, seen) = (Arc::clone(&conns), Arc::clone(&heads));
        let upstreams: Arc<[u16]> = upstreams.into();
        let accept = tokio::spawn(async move {
            let mut turn = 0usize;
            while let Ok((inbound, _)) = listener.accept().await {
                let task = tokio::spawn(forward(
                    inbound,
                    Arc::clone(&upstreams),
                    turn,
                    Arc::clone(&seen),
                ));
                turn = turn.wrapping_add(1);
                let mut list = list.lock().unwrap();
                list.retain(|c| !c.is_finished());
                list.push(task.abort_handle());
            }
        });
        Self {
            port,
            conns,
            heads,
            accept,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Cuts every connection through the proxy (as a network failure would).
    pub fn cut(&self) {
        for conn in self.conns.lock().unwrap().drain(..) {
            conn.abort();
        }
    }

    /// The head (request line and headers) of every request so far.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

/// One connection: its first read holds the request's head (clients send it in one write),
/// recorded before it is passed on; then bytes both ways until either side ends.
async fn forward(
    mut inbound: TcpStream,
    upstreams: Arc<[u16]>,
    turn: usize,
    heads: Arc<Mutex<Vec<String>>>,
) {
    let mut outbound = None;
    for i in 0..upstreams.len() {
        let upstream = upstreams[(turn + i) % upstreams.len()];
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", upstream)).await {
            outbound = Some(stream);
            break;
        }
    }
    let Some(mut outbound) = outbound else {
        return;
    };
    let mut buf = vec![0u8; 16 * 1024];
    let Ok(n) = inbound.read(&mut buf).await else {
        return;
    };
    let text = String::from_utf8_lossy(&buf[..n]);
    let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
    heads.lock().unwrap().push(head);
    if outbound.write_all(&buf[..n]).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
