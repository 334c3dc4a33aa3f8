//! Static file mounts (`--static PREFIX=DIR`), served by tower-http's
//! `ServeDir` behind the API routes.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tower_http::services::ServeDir;

use crate::params::ApiError;

/// One validated mount.
#[derive(Debug, Clone)]
pub struct Mount {
    /// `/` or `/a/b` (no trailing slash).
    pub prefix: String,
    /// The directory served.
    pub dir: PathBuf,
}

/// Validates and normalises the mounts; longest prefixes first.
pub fn mounts(raw: &[(String, PathBuf)]) -> io::Result<Arc<Vec<Mount>>> {
    let mut out = Vec::new();
    for (prefix, dir) in raw {
        let ok_chars = prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b));
        if !prefix.starts_with('/') || !ok_chars || prefix.contains("//") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "invalid static mount prefix {prefix:?}: must start with '/' and use only [A-Za-z0-9/._~-]"
                ),
            ));
        }
        let trimmed = prefix.trim_end_matches('/');
        let prefix = if trimmed.is_empty() { "/" } else { trimmed };
        out.push(Mount {
            prefix: prefix.to_owned(),
            dir: dir.clone(),
        });
    }
    out.sort_by_key(|m| std::cmp::Reverse(m.prefix.len()));
    Ok(Arc::new(out))
}

/// The rest of `path` below `prefix`, if `path` is under it.
fn strip<'a>(prefix: &str, path: &'a str) -> Option<&'a str> {
    if prefix == "/" {
        return Some(path);
    }
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The fallback handler: the longest matching mount serves the request.
pub async fn serve(mounts: Arc<Vec<Mount>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    for m in mounts.iter() {
        let Some(rest) = strip(&m.prefix, &path) else {
            continue;
        };
        if rest.is_empty() {
            // `/pkg` -> `/pkg/` so relative links in its index work.
            let location = format!("{}/", m.prefix);
            return (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, location)],
            )
                .into_response();
        }
        let (mut parts, body) = req.into_parts();
        let pq = match parts.uri.query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_owned(),
        };
        parts.uri = match pq.parse::<Uri>() {
            Ok(u) => u,
            Err(_) => return ApiError::bad("invalid path").into_response(),
        };
        let req = Request::from_parts(parts, body);
        let mut svc = ServeDir::new(&m.dir);
        return match svc.try_call(req).await {
            Ok(resp) => {
                let mut resp = resp.map(Body::new);
                fix_redirect(&mut resp, &m.prefix);
                resp
            }
            Err(e) => ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read static file: {e}"),
            )
            .into_response(),
        };
    }
    ApiError(StatusCode::NOT_FOUND, format!("no route for {path}")).into_response()
}

/// `ServeDir` redirects `dir` to `dir/` relative to the rewritten path; put
/// the mount prefix back.
fn fix_redirect(resp: &mut Response, prefix: &str) {
    if !resp.status().is_redirection() || prefix == "/" {
        return;
    }
    let Some(loc) = resp.headers().get(header::LOCATION) else {
        return;
    };
    let Ok(loc) = loc.to_str() else {
        return;
    };
    if loc.starts_with('/') {
        if let Ok(v) = HeaderValue::from_str(&format!("{prefix}{loc}")) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(strip("/", "/a"), Some("/a"));
        assert_eq!(strip("/pkg", "/pkg/x.wasm"), Some("/x.wasm"));
        assert_eq!(strip("/pkg", "/pkg"), Some(""));
        assert_eq!(strip("/pkg", "/pkgx"), None);
        let m = mounts(&[("/".into(), "a".into()), ("/pkg/".into(), "b".into())]).unwrap();
        assert_eq!(m[0].prefix, "/pkg");
        assert_eq!(m[1].prefix, "/");
        assert!(mounts(&[("pkg".into(), "b".into())]).is_err());
        assert!(mounts(&[("/{x}".into(), "b".into())]).is_err());
    }
}
