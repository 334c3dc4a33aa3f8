//! The fault-injection control API, `/stats` and `/health`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::params::{shorten, ApiError, Params};
use crate::state::{Ctl, State};
use crate::ws::params;

/// How long a control call waits for the connections to carry it out.
const ACK_WAIT: Duration = Duration::from_secs(2);
/// The longest refuse or silence window, in ms (one hour).
const MAX_MS: u64 = 3_600_000;

type Q =
    Result<axum::extract::Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

/// Whether a close code may be sent in a close frame: 1000-1003,
/// 1007-1014 and 3000-4999.
pub fn sendable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

fn target(p: &Params) -> Result<Option<String>, ApiError> {
    Ok(p.text("client")?.map(str::to_owned))
}

fn required_ms(p: &Params) -> Result<u64, ApiError> {
    if p.raw("ms").is_none() {
        return Err(ApiError::bad(format!(
            "missing ms: expected an integer in 0..={MAX_MS}"
        )));
    }
    p.int("ms", 0, 0..=MAX_MS)
}

/// `GET|POST /control/{verb}`.
pub async fn control(
    AxState(state): AxState<Arc<State>>,
    Path(verb): Path<String>,
    q: Q,
) -> Response {
    match control_inner(&state, &verb, q).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn control_inner(state: &State, verb: &str, q: Q) -> Result<Value, ApiError> {
    let p = params(q)?;
    let client = target(&p)?;
    let client = client.as_deref();
    let reply = match verb {
        "drop" => {
            let n = state.broadcast_ctl(client, || Ctl::Drop, ACK_WAIT).await;
            json!({ "ok": true, "dropped": n })
        }
        "close" => {
            let code = p.int("code", 1000, 0..=u64::from(u16::MAX))? as u16;
            if !sendable_close_code(code) {
                return Err(ApiError::bad(format!(
                    "invalid code={code}: a close frame may carry 1000-1003, 1007-1014 or 3000-4999"
                )));
            }
            let reason = p.raw("reason").unwrap_or("").to_owned();
            if reason.len() > 123 {
                return Err(ApiError::bad(format!(
                    "invalid reason={}: at most 123 bytes",
                    shorten(&reason)
                )));
            }
            let n = state
                .broadcast_ctl(client, || Ctl::Close(code, reason.clone()), ACK_WAIT)
                .await;
            json!({ "ok": true, "closed": n })
        }
        "refuse" => {
            let ms = required_ms(&p)?;
            state.refuse(client, ms);
            json!({ "ok": true, "refusing_ms": ms })
        }
        "silence" => {
            let ms = required_ms(&p)?;
            let until =
                (ms > 0).then(|| std::time::Instant::now() + Duration::from_millis(ms));
            let n = state
                .broadcast_ctl(client, || Ctl::Silence(until), ACK_WAIT)
                .await;
            json!({ "ok": true, "silenced": n, "ms": ms })
        }
        "throttle" => {
            if p.raw("bps").is_none() {
                return Err(ApiError::bad(format!(
                    "missing bps: expected an integer in 0..={}",
                    crate::ws::MAX_BPS
                )));
            }
            let bps = p.int("bps", 0, 0..=crate::ws::MAX_BPS)?;
            let n = state
                .broadcast_ctl(client, || Ctl::Throttle(bps), ACK_WAIT)
                .await;
            json!({ "ok": true, "throttled": n, "bps": bps })
        }
        "malformed" => {
            let (json, binary) = match p.raw("kind").unwrap_or("both") {
                "json" => (true, false),
                "binary" => (false, true),
                "both" => (true, true),
                other => {
                    return Err(ApiError::bad(format!(
                        "invalid kind={}: expected json, binary or both",
                        shorten(other)
                    )))
                }
            };
            let n = state
                .broadcast_ctl(client, || Ctl::Malformed { json, binary }, ACK_WAIT)
                .await;
            json!({ "ok": true, "sent": n })
        }
        "reset" => {
            state.reset_stats();
            state
                .broadcast_ctl(None, || Ctl::Silence(None), ACK_WAIT)
                .await;
            json!({ "ok": true })
        }
        other => {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!(
                    "unknown control verb {}: expected drop, close, refuse, silence, throttle, malformed or reset",
                    shorten(other)
                ),
            ))
        }
    };
    if state.verbose {
        eprintln!(
            "[resocket-server] control {verb} client={} -> {reply}",
            client.unwrap_or("*")
        );
    }
    Ok(reply)
}

/// `GET /stats` (all clients' counters) or `GET /stats?client=ID&since=K&limit=N`.
pub async fn stats(AxState(state): AxState<Arc<State>>, q: Q) -> Response {
    let run = || -> Result<Value, ApiError> {
        let p = params(q)?;
        let since = p.int("since", 0, 0..=u64::MAX)?;
        let limit = p.int("limit", u64::MAX, 0..=u64::MAX)?;
        let index = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Ok(match p.text("client")? {
            Some(c) => state.client_stats(c, index(since), index(limit)),
            None => state.all_stats(),
        })
    };
    match run() {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The origin rule of `/control/*` (cross-site request forgery: any page the user visits could
/// otherwise drop or silence the server's connections). A request with an `Origin` header must
/// come from one of the server's own origins or an `--allow-origin` one, and its answer allows
/// only that origin; one without (non-browser clients, same-origin `GET`s) is refused when
/// `Sec-Fetch-Site` says another origin sent it (`<img src>`, forms). Other paths pass through.
pub async fn same_origin_only(
    AxState(state): AxState<Arc<State>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !req.uri().path().starts_with("/control/") {
        return next.run(req).await;
    }
    let origin = header(&req, "origin");
    let site = header(&req, "sec-fetch-site");
    let verbose = state.verbose;
    let refuse = move |why: String| -> Response {
        if verbose {
            eprintln!("[resocket-server] control refused: {why}");
        }
        ApiError(StatusCode::FORBIDDEN, why).into_response()
    };
    match origin {
        Some(o) => {
            if state.origins.check(Some(&o)).is_err() {
                return refuse(format!(
                    "cross-site request refused: origin {} is not one of the server's origins (see --allow-origin)",
                    shorten(&o)
                ));
            }
            let mut response = next.run(req).await;
            if let Ok(v) = axum::http::HeaderValue::from_str(&o) {
                let h = response.headers_mut();
                h.insert(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                h.insert(
                    axum::http::header::VARY,
                    axum::http::HeaderValue::from_static("Origin"),
                );
            }
            response
        }
        None => match site.as_deref() {
            None | Some("same-origin" | "none") => {
                let mut response = next.run(req).await;
                // No other origin may read it (the inner layer set `*` on every answer).
                response
                    .headers_mut()
                    .remove(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN);
                response
            }
            Some(other) => refuse(format!(
                "cross-site request refused: Sec-Fetch-Site {} without an allowed Origin",
                shorten(other)
            )),
        },
    }
}

fn header(req: &axum::extract::Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .map(|v| v.to_str().unwrap_or("(not ASCII)").to_owned())
}

/// `GET /health`.
pub async fn health() -> &'static str {
    "ok"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes() {
        for ok in [1000, 1001, 1003, 1007, 1014, 3000, 4001, 4999] {
            assert!(sendable_close_code(ok), "{ok}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            assert!(!sendable_close_code(bad), "{bad}");
        }
    }
}
