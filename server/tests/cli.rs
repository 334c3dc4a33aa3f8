//! The `resocket-server` binary: flags, the listening line, the port file,
//! signals and restarting on the same port.

#![cfg(unix)]

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use common::*;
use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_resocket-server");

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("resocket-cli-{}-{name}", std::process::id()))
}

/// Spawns the server and returns it with the port from its listening line.
async fn spawn(args: &[&str]) -> (Child, u16) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("RESOCKET_PORT")
        .env_remove("PORT")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn server");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = within("listening line", lines.next_line())
        .await
        .expect("read stdout")
        .expect("a line");
    let port = line
        .strip_prefix("resocket-server listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
        .parse()
        .expect("port");
    (child, port)
}

async fn signal(child: &Child, sig: &str) {
    let pid = child.id().expect("running").to_string();
    let status = Command::new("kill")
        .args([sig, &pid])
        .status()
        .await
        .expect("kill");
    assert!(status.success());
}

#[tokio::test]
async fn binary_serves_exits_on_signals_and_restarts_on_the_same_port() {
    let port_file = temp_path("port");
    let _ = std::fs::remove_file(&port_file);
    let pf = port_file.to_str().unwrap();
    let (mut child, port) = spawn(&["--port", "0", "--port-file", pf]).await;
    let written = std::fs::read_to_string(&port_file).expect("port file");
    assert_eq!(written.trim(), port.to_string());
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    assert_eq!(http(addr, "GET", "/health").await, (200, "ok".to_string()));

    // An open socket gets a 1001 close on SIGTERM; the process exits 0.
    let mut ws = connect(addr, "/ws/ticker?client=cli&rate=50").await;
    recv(&mut ws).await;
    signal(&child, "-TERM").await;
    // Read the socket while waiting, so the client answers the close.
    let (status, code) = tokio::join!(within("exit after SIGTERM", child.wait()), async {
        within("close frame", async {
            while let Some(Ok(m)) = ws.next().await {
                if let Message::Close(f) = m {
                    // Keep polling so the close reply gets flushed.
                    while let Some(Ok(_)) = ws.next().await {}
                    return f.map(|f| u16::from(f.code));
                }
            }
            None
        })
        .await
    });
    assert!(status.unwrap().success());
    assert_eq!(code, Some(1001));

    // Restart on the same port at once, then stop with SIGINT.
    let p = port.to_string();
    let (mut child, port2) = spawn(&["--port", &p]).await;
    assert_eq!(port2, port);
    assert_eq!(http(addr, "GET", "/health").await.0, 200);
    signal(&child, "-INT").await;
    let status = within("exit after SIGINT", child.wait()).await.unwrap();
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_file(&port_file);
}

#[tokio::test]
async fn port_comes_from_the_environment() {
    let mut child = Command::new(BIN)
        .env("RESOCKET_PORT", "0")
        .env("PORT", "1")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().unwrap();
    let line = within("line", BufReader::new(stdout).lines().next_line())
        .await
        .unwrap()
        .unwrap();
    assert!(
        line.starts_with("resocket-server listening on http://127.0.0.1:"),
        "{line}"
    );
    signal(&child, "-TERM").await;
    assert!(within("exit", child.wait()).await.unwrap().success());
}

#[tokio::test]
async fn bad_flags_exit_2_with_a_message_naming_them() {
    for (args, needles) in [
        (&["--port", "abc"][..], &["--port", "abc"][..]),
        (&["--nope"][..], &["--nope"][..]),
        (&["--static", "pkg"][..], &["--static", "pkg"][..]),
        (&["--host"][..], &["--host"][..]),
    ] {
        let out = within("run", Command::new(BIN).args(args).output())
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        for n in needles {
            assert!(err.contains(n), "{args:?}: {err}");
        }
    }
    let out = within("help", Command::new(BIN).arg("--help").output())
        .await
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--static PREFIX=DIR"));
}

#[tokio::test]
async fn an_unreachable_resume_redis_fails_the_start_without_showing_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}/");
    let out = within(
        "run",
        Command::new(BIN)
            .args(["--port", "0", "--resume-redis", &url])
            .env_remove("RESOCKET_RESUME_REDIS")
            .output(),
    )
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Redis session store") && err.contains("connection refused"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    assert!(out.stdout.is_empty(), "no listening line");
}
