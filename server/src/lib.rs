//! The resocket test peer and demo server.
//!
//! WebSocket endpoints (`/ws/echo`, `/ws/ticker`, `/ws/chat`, `/ws/flood`,
//! `/ws/slow`),
//! a fault-injection control API (`/control/...`), per-client statistics
//! (`/stats`) and static file mounts. See `README.md` for the protocol.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let running = resocket_server::start(resocket_server::Config::default()).await?;
//! println!("listening on {}", running.http_url("/"));
//! running.shutdown().await
//! # }
//! ```

#![warn(missing_docs)]

mod chat;
mod conn;
mod control;
mod params;
mod resume;
mod state;
mod statics;
mod ticker;
mod wpt;
mod ws;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::{Ctl, State};

pub use crate::conn::MALFORMED_TEXT;
pub use crate::ticker::price;
pub use crate::ws::PROTOCOLS;

/// How long a shutdown waits for HTTP requests and WebSocket close
/// handshakes before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Server configuration.
#[derive(Clone)]
pub struct Config {
    /// The address to bind (default `127.0.0.1`).
    pub host: IpAddr,
    /// The port to bind; `0` picks a free one (the default here; the CLI
    /// defaults to 8080).
    pub port: u16,
    /// Static mounts: URL prefix (`/`, `/pkg`) and the directory it serves.
    /// The API routes take precedence; the longest prefix wins.
    pub static_mounts: Vec<(String, PathBuf)>,
    /// Log connections and control actions to stderr (never query strings
    /// or tokens).
    pub verbose: bool,
    /// Origins, besides the server's own (`http://127.0.0.1:PORT`,
    /// `http://localhost:PORT`, `http://[::1]:PORT`), whose pages may call
    /// `/control/*` and open `/ws/resume`; `http://host:*` allows any port.
    pub allow_origins: Vec<String>,
    /// Keep the `/ws/resume` sessions in the Redis at this URL (`redis://HOST:PORT[/DB]`)
    /// instead of in memory, so servers sharing the Redis resume each other's sessions (and a
    /// restarted server its own). `None` (the default): in memory. The URL may hold a password:
    /// `Debug` and errors never show it.
    pub resume_redis: Option<String>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("static_mounts", &self.static_mounts)
            .field("verbose", &self.verbose)
            .field("allow_origins", &self.allow_origins)
            .field("resume_redis", &self.resume_redis.as_ref().map(|_| ".."))
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            static_mounts: Vec::new(),
            verbose: false,
            allow_origins: Vec::new(),
            resume_redis: None,
        }
    }
}

/// A clonable handle that can stop a running server.
#[derive(Clone, Debug)]
pub struct ServerHandle {
    tx: Arc<watch::Sender<bool>>,
}

impl ServerHandle {
    /// Starts the shutdown: the listener closes, open WebSockets get a
    /// 1001 close frame. Await [`Running::wait`] for it to finish.
    pub fn shutdown(&self) {
        self.tx.send_replace(true);
    }
}

/// A started server.
#[derive(Debug)]
pub struct Running {
    /// The address the server is bound to (with the real port when `0`
    /// was asked for).
    pub addr: SocketAddr,
    handle: ServerHandle,
    task: JoinHandle<io::Result<()>>,
}

impl Running {
    /// A handle that can stop the server from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// `http://ADDR` + `path` (e.g. `/stats?client=a`).
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `ws://ADDR` + `path` (e.g. `/ws/echo?client=a`).
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// Waits until the server has stopped (after [`ServerHandle::shutdown`]).
    pub async fn wait(self) -> io::Result<()> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(io::Error::other(e)),
        }
    }

    /// Stops the server and waits until it has (the port is free again).
    pub async fn shutdown(self) -> io::Result<()> {
        self.handle.shutdown();
        self.wait().await
    }
}

fn router(state: Arc<State>, mounts: Arc<Vec<statics::Mount>>) -> Router {
    Router::new()
        .route("/health", get(control::health))
        .route("/stats", get(control::stats))
        .route(
            "/control/{verb}",
            get(control::control).post(control::control),
        )
        .route("/ws/resume", get(resume::resume))
        .route("/ws/echo", get(ws::echo))
        .route("/ws/ticker", get(ws::ticker))
        .route("/ws/chat", get(ws::chat))
        .route("/ws/flood", get(ws::flood))
        .route("/ws/slow", get(ws::slow))
        .route("/ws/wpt/echo", get(wpt::echo))
        .fallback(move |req| statics::serve(mounts.clone(), req))
        .layer(axum::middleware::map_response(allow_any_origin))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            control::same_origin_only,
        ))
        .with_state(state)
}

/// Browser tests run on the test runner's own origin and read `/stats` with `fetch`, so
/// responses allow any origin (the server only listens on loopback) - except `/control/*`,
/// whose answers [`control::same_origin_only`] (the outer layer) allows for the requesting
/// origin only.
async fn allow_any_origin(mut response: axum::response::Response) -> axum::response::Response {
    response.headers_mut().insert(
        axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        axum::http::HeaderValue::from_static("*"),
    );
    response
}

/// The server's own origins on `port` plus the configured ones.
fn origins(port: u16, extra: &[String]) -> resocket_resume::Origins {
    let own = [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
    ];
    own.into_iter().chain(extra.iter().cloned()).fold(
        resocket_resume::Origins::new(Vec::<String>::new()),
        |o, a| o.with(&a),
    )
}

/// Binds (with `SO_REUSEADDR`, so a restart can reuse the port at once)
/// and starts serving in a background task. Must be called inside a tokio
/// runtime. Dropping the [`Running`] leaves the server running. With
/// [`Config::resume_redis`] it first connects to the Redis (an unreachable one
/// is an error).
pub async fn start(config: Config) -> io::Result<Running> {
    let mounts = statics::mounts(&config.static_mounts)?;
    let redis = match &config.resume_redis {
        Some(url) => Some(
            resocket_resume::RedisStore::connect(url)
                .await
                .map_err(|e| io::Error::other(format!("the Redis session store: {e}")))?,
        ),
        None => None,
    };
    let addr = SocketAddr::new(config.host, config.port);
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(1024)?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });

    let state = Arc::new(State::new(
        config.verbose,
        origins(addr.port(), &config.allow_origins),
        redis,
    ));
    let app = router(state.clone(), mounts);
    let (tx, rx) = watch::channel(false);
    let mut rx2 = rx.clone();
    let signal = async move {
        let mut rx = rx;
        let _ = rx.wait_for(|&stop| stop).await;
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(signal);
    let task = tokio::spawn(async move {
        let server = std::future::IntoFuture::into_future(server);
        let deadline = async {
            let _ = rx2.wait_for(|&stop| stop).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        let result = tokio::select! {
            r = server => r,
            () = deadline => Ok(()),
        };
        state
            .broadcast_ctl(None, || Ctl::Shutdown, SHUTDOWN_GRACE)
            .await;
        state.wait_no_connections(SHUTDOWN_GRACE).await;
        result
    });
    Ok(Running {
        addr,
        handle: ServerHandle { tx: Arc::new(tx) },
        task,
    })
}
