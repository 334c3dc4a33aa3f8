//! `resocket-server`: the command-line front of the test peer.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use resocket_server::{start, Config};

const USAGE: &str = "\
resocket-server: the resocket test peer and demo server

USAGE:
    resocket-server [--host H] [--port N] [--static PREFIX=DIR]... [--port-file PATH]
                    [--allow-origin O]... [--resume-redis URL] [--verbose]

OPTIONS:
    --host H              address to bind (default 127.0.0.1; `localhost` works too)
    --port N              port to bind; 0 picks a free one
                          (default: $RESOCKET_PORT, else $PORT, else 8080)
    --static PREFIX=DIR   serve DIR under PREFIX (repeatable), e.g.
                          --static /=www/dist --static /pkg=pkg
    --port-file PATH      write the bound port number to PATH after binding
    --allow-origin O      also let pages from origin O (e.g. http://127.0.0.1:8000, or
                          http://127.0.0.1:* for any port) call /control/* and open
                          /ws/resume (repeatable; default: only the server's own origins;
                          also $RESOCKET_ALLOW_ORIGINS, comma-separated)
    --resume-redis URL    keep /ws/resume sessions in the Redis at URL
                          (redis://[:PASSWORD@]HOST:PORT[/DB]) instead of in memory:
                          servers sharing it resume each other's sessions
                          (default: $RESOCKET_RESUME_REDIS, else in memory)
    --verbose             log connections and control actions to stderr
    -h, --help            print this help

On start it prints one line: `resocket-server listening on http://HOST:PORT`.
Endpoints: /ws/echo /ws/ticker /ws/chat /ws/flood /ws/slow /ws/resume /control/* /stats /health
(see server/README.md).
";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Cli {
    Help,
    Run(Options),
}

/// Parsed options.
#[derive(Debug, PartialEq)]
struct Options {
    host: IpAddr,
    port: u16,
    statics: Vec<(String, PathBuf)>,
    port_file: Option<PathBuf>,
    verbose: bool,
    allow_origins: Vec<String>,
    resume_redis: Option<String>,
}

fn parse_port(v: &str, what: &str) -> Result<u16, String> {
    v.trim()
        .parse::<u16>()
        .map_err(|_| format!("invalid {what} value {v:?}: expected a port number 0..=65535"))
}

fn parse_host(v: &str) -> Result<IpAddr, String> {
    if v.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    v.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| format!("invalid --host value {v:?}: expected an IP address or localhost"))
}

/// Checks the scheme only (the store parses the rest); the error never repeats the value, which
/// may hold a password.
fn parse_redis_url(v: &str, what: &str) -> Result<String, String> {
    if v.starts_with("redis://") && v.len() > "redis://".len() {
        Ok(v.to_owned())
    } else {
        Err(format!(
            "invalid {what} value (not shown: it may hold a password): expected redis://HOST:PORT[/DB]"
        ))
    }
}

fn parse_static(v: &str) -> Result<(String, PathBuf), String> {
    match v.split_once('=') {
        Some((prefix, dir)) if prefix.starts_with('/') && !dir.is_empty() => {
            Ok((prefix.to_owned(), PathBuf::from(dir)))
        }
        _ => Err(format!(
            "invalid --static value {v:?}: expected PREFIX=DIR with PREFIX starting with '/'"
        )),
    }
}

/// Parses the arguments (without the program name); `env` reads an
/// environment variable.
fn parse_args<I, E>(args: I, env: E) -> Result<Cli, String>
where
    I: IntoIterator<Item = String>,
    E: Fn(&str) -> Option<String>,
{
    let mut host = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut port = None;
    let mut statics = Vec::new();
    let mut port_file = None;
    let mut verbose = false;
    let mut allow_origins: Vec<String> = env("RESOCKET_ALLOW_ORIGINS")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let mut resume_redis = match env("RESOCKET_RESUME_REDIS") {
        Some(v) if !v.is_empty() => Some(parse_redis_url(&v, "RESOCKET_RESUME_REDIS")?),
        _ => None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |flag: &str| -> Result<String, String> {
            match inline.clone().or_else(|| args.next()) {
                Some(v) => Ok(v),
                None => Err(format!("missing value for {flag}")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Cli::Help),
            "--host" => host = parse_host(&value("--host")?)?,
            "--port" => port = Some(parse_port(&value("--port")?, "--port")?),
            "--static" => statics.push(parse_static(&value("--static")?)?),
            "--port-file" => port_file = Some(PathBuf::from(value("--port-file")?)),
            "--verbose" | "-v" if inline.is_none() => verbose = true,
            "--allow-origin" => {
                let o = value("--allow-origin")?;
                if !(o.starts_with("http://") || o.starts_with("https://")) {
                    return Err(format!(
                        "invalid --allow-origin value {o:?}: expected http://HOST[:PORT] or https://..."
                    ));
                }
                allow_origins.push(o);
            }
            "--resume-redis" => {
                resume_redis = Some(parse_redis_url(
                    &value("--resume-redis")?,
                    "--resume-redis",
                )?);
            }
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    let port = match port {
        Some(p) => p,
        None => match (env("RESOCKET_PORT"), env("PORT")) {
            (Some(v), _) if !v.is_empty() => parse_port(&v, "RESOCKET_PORT")?,
            (_, Some(v)) if !v.is_empty() => parse_port(&v, "PORT")?,
            _ => 8080,
        },
    };
    Ok(Cli::Run(Options {
        host,
        port,
        statics,
        port_file,
        verbose,
        allow_origins,
        resume_redis,
    }))
}

/// Writes the port atomically (temp file + rename) so a poller never sees
/// a partial number.
fn write_port_file(path: &Path, port: u16) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, format!("{port}\n"))?;
    std::fs::rename(&tmp, path)
}

/// SIGINT and SIGTERM listeners, installed before the listening line is
/// printed so a signal sent right after it is never missed.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => {}
                _ = self.term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(Cli::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Cli::Run(opts)) => opts,
        Err(e) => {
            eprintln!("resocket-server: error: {e} (see --help)");
            return ExitCode::from(2);
        }
    };
    for (prefix, dir) in &opts.statics {
        if !dir.is_dir() {
            eprintln!(
                "resocket-server: warning: --static {prefix}={}: not a directory (yet); requests will get 404",
                dir.display()
            );
        }
    }
    let config = Config {
        host: opts.host,
        port: opts.port,
        static_mounts: opts.statics,
        verbose: opts.verbose,
        allow_origins: opts.allow_origins,
        resume_redis: opts.resume_redis,
    };
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("resocket-server: error: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let running = match start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "resocket-server: error: cannot start on {}:{}: {e}",
                opts.host, opts.port
            );
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &opts.port_file {
        if let Err(e) = write_port_file(path, running.addr.port()) {
            eprintln!(
                "resocket-server: error: cannot write --port-file {}: {e}",
                path.display()
            );
            return ExitCode::FAILURE;
        }
    }
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "resocket-server listening on http://{}",
        running.addr
    );
    let _ = stdout.flush();

    let handle = running.handle();
    tokio::spawn(async move {
        signals.recv().await;
        handle.shutdown();
        // A second signal stops at once.
        signals.recv().await;
        std::process::exit(130);
    });
    match running.wait().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("resocket-server: error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Cli, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_args(args.iter().map(|s| s.to_string()), move |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    fn opts(args: &[&str], env: &[(&str, &str)]) -> Options {
        match parse(args, env) {
            Ok(Cli::Run(o)) => o,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn defaults_and_env() {
        let o = opts(&[], &[]);
        assert_eq!(o.port, 8080);
        assert_eq!(o.host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(opts(&[], &[("PORT", "9000")]).port, 9000);
        assert_eq!(
            opts(&[], &[("PORT", "9000"), ("RESOCKET_PORT", "9001")]).port,
            9001
        );
        assert_eq!(opts(&["--port", "0"], &[("RESOCKET_PORT", "9001")]).port, 0);
        let e = parse(&[], &[("RESOCKET_PORT", "x")]).unwrap_err();
        assert!(e.contains("RESOCKET_PORT"), "{e}");
    }

    #[test]
    fn flags() {
        let o = opts(
            &[
                "--host=0.0.0.0",
                "--port",
                "1234",
                "--static",
                "/=www/dist",
                "--static=/pkg=pkg",
                "--port-file",
                "p.txt",
                "--verbose",
            ],
            &[],
        );
        assert_eq!(o.host, "0.0.0.0".parse::<IpAddr>().unwrap());
        assert_eq!(o.port, 1234);
        assert_eq!(
            o.statics,
            vec![
                ("/".to_string(), PathBuf::from("www/dist")),
                ("/pkg".to_string(), PathBuf::from("pkg")),
            ]
        );
        assert_eq!(o.port_file, Some(PathBuf::from("p.txt")));
        assert!(o.verbose);
        assert_eq!(parse(&["--help"], &[]), Ok(Cli::Help));
        let o = opts(
            &["--allow-origin", "http://127.0.0.1:*"],
            &[("RESOCKET_ALLOW_ORIGINS", "http://a.test, https://b.test")],
        );
        assert_eq!(
            o.allow_origins,
            ["http://a.test", "https://b.test", "http://127.0.0.1:*"]
        );
    }

    #[test]
    fn resume_redis() {
        assert_eq!(opts(&[], &[]).resume_redis, None);
        let o = opts(&["--resume-redis", "redis://127.0.0.1:6390/2"], &[]);
        assert_eq!(o.resume_redis.as_deref(), Some("redis://127.0.0.1:6390/2"));
        let o = opts(
            &["--resume-redis=redis://a:1/"],
            &[("RESOCKET_RESUME_REDIS", "redis://b:2/")],
        );
        assert_eq!(o.resume_redis.as_deref(), Some("redis://a:1/"));
        let o = opts(&[], &[("RESOCKET_RESUME_REDIS", "redis://b:2/")]);
        assert_eq!(o.resume_redis.as_deref(), Some("redis://b:2/"));
        // Bad values are named by their flag, never shown (they may hold a password).
        for (args, env, needle) in [
            (
                &["--resume-redis", "http://:hunter2@h/"][..],
                &[][..],
                "--resume-redis",
            ),
            (
                &["--resume-redis", "redis://"][..],
                &[][..],
                "--resume-redis",
            ),
            (&["--resume-redis"][..], &[][..], "--resume-redis"),
            (
                &[][..],
                &[("RESOCKET_RESUME_REDIS", "hunter2")][..],
                "RESOCKET_RESUME_REDIS",
            ),
        ] {
            let e = parse(args, env).unwrap_err();
            assert!(e.contains(needle) && !e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn errors_name_the_flag() {
        for (args, needle) in [
            (&["--port", "70000"][..], "--port"),
            (&["--port"][..], "--port"),
            (&["--host", "nope"][..], "--host"),
            (&["--static", "pkg"][..], "--static"),
            (&["--bogus"][..], "--bogus"),
            (&["--allow-origin", "evil.example"][..], "--allow-origin"),
        ] {
            let e = parse(args, &[]).unwrap_err();
            assert!(e.contains(needle), "{args:?}: {e}");
        }
    }
}
