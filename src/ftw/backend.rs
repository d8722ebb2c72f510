//! An albedo-like backend (`ghcr.io/coreruleset/albedo`, the server CRS's CI puts behind the
//! WAF), in process on `127.0.0.1:0`:
//!
//! * any path, any method: 200 with an empty body and no `Content-Type`;
//! * `POST /reflect` (and `/reflect/…`): the JSON body `{status, headers, body, encodedBody,
//!   logMessage}` says what to answer. `body` wins over `encodedBody` (base64); a status outside
//!   100–599 or a body that is not JSON is a 400 with albedo's message; headers that are not
//!   valid HTTP are dropped; without a `Content-Type` one is sniffed from the body as Go's
//!   `net/http` does (the CRS response rules look at it);
//! * `GET /capabilities`: a short JSON list of the endpoints.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::Context;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpListener;

/// Bind and serve until the process ends. Returns the bound address.
pub async fn start() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await.context("backend: cannot bind 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(target: "rampart::ftw", error = %e, "backend accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc = service_fn(|req| async move { Ok::<_, Infallible>(respond(req).await) });
                // Keep-alive: the proxy's pool reuses its connections to us across the suite.
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    Ok(addr)
}

async fn respond(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return plain(StatusCode::BAD_REQUEST, "Failed to parse request body"),
    };
    let path = parts.uri.path();
    let reflect = path == "/reflect" || path.starts_with("/reflect/");
    if parts.method == Method::POST && reflect {
        let (status, headers, body) = reflect_answer(&body);
        let mut resp = Response::new(Full::new(Bytes::from(body)));
        *resp.status_mut() = status;
        for (name, value) in headers {
            resp.headers_mut().append(name, value);
        }
        return resp;
    }
    if parts.method == Method::GET && (path == "/capabilities" || path == "/capabilities/") {
        let mut resp = Response::new(Full::new(Bytes::from_static(CAPABILITIES.as_bytes())));
        resp.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return resp;
    }
    Response::new(Full::new(Bytes::new()))
}

const CAPABILITIES: &str = r#"{"endpoints":[{"path":"/*"},{"path":"/capabilities"},{"path":"/reflect"}]}"#;

/// What `/reflect` asks for. Unknown fields are ignored, as Go's `encoding/json` does.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReflectionSpec {
    status: i64,
    headers: BTreeMap<String, String>,
    body: String,
    #[serde(rename = "encodedBody")]
    encoded_body: String,
    #[serde(rename = "logMessage")]
    #[allow(dead_code)]
    log_message: String,
}

fn reflect_answer(request_body: &[u8]) -> (StatusCode, Vec<(HeaderName, HeaderValue)>, Vec<u8>) {
    let spec: ReflectionSpec = match serde_json::from_slice(request_body) {
        Ok(s) => s,
        Err(_) => return bad_request("Invalid JSON in request body".into()),
    };
    let status = match spec.status {
        0 => StatusCode::OK,
        s => match u16::try_from(s).ok().filter(|s| (100..600).contains(s)).and_then(|s| StatusCode::from_u16(s).ok()) {
            Some(s) => s,
            None => return bad_request(format!("Invalid status code: {s}")),
        },
    };
    let mut headers: Vec<(HeaderName, HeaderValue)> = spec
        .headers
        .iter()
        .filter_map(|(k, v)| Some((HeaderName::from_bytes(k.as_bytes()).ok()?, HeaderValue::from_str(v).ok()?)))
        .collect();
    let body = if !spec.body.is_empty() {
        spec.body.into_bytes()
    } else if spec.encoded_body.is_empty() {
        Vec::new()
    } else {
        // albedo writes the status first, so a bad encoding keeps it and only the body says so.
        rampart_waf::ftw::base64::decode(&spec.encoded_body)
            .unwrap_or_else(|| b"invalid base64 encoding of response body".to_vec())
    };
    if !body.is_empty() && !headers.iter().any(|(k, _)| k == http::header::CONTENT_TYPE) {
        headers.push((http::header::CONTENT_TYPE, HeaderValue::from_static(sniff(&body))));
    }
    (status, headers, body)
}

fn bad_request(message: String) -> (StatusCode, Vec<(HeaderName, HeaderValue)>, Vec<u8>) {
    let ct = (http::header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    (StatusCode::BAD_REQUEST, vec![ct], message.into_bytes())
}

fn plain(status: StatusCode, message: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(message.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

/// The part of Go's `http.DetectContentType` that matters here: HTML and XML signatures,
/// then text unless a byte says binary.
fn sniff(body: &[u8]) -> &'static str {
    const HTML: [&[u8]; 17] = [
        b"<!DOCTYPE HTML", b"<HTML", b"<HEAD", b"<SCRIPT", b"<IFRAME", b"<H1", b"<DIV", b"<FONT", b"<TABLE", b"<A",
        b"<STYLE", b"<TITLE", b"<B", b"<BODY", b"<BR", b"<P", b"<!--",
    ];
    let start = body.iter().position(|b| !matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' ')).unwrap_or(body.len());
    let data = &body[start..];
    for sig in HTML {
        if data.len() > sig.len() && data[..sig.len()].eq_ignore_ascii_case(sig) && matches!(data[sig.len()], b' ' | b'>') {
            return "text/html; charset=utf-8";
        }
    }
    if data.starts_with(b"<?xml") {
        return "text/xml; charset=utf-8";
    }
    let binary = |b: &u8| matches!(b, 0x00..=0x08 | 0x0b | 0x0e..=0x1a | 0x1c..=0x1f);
    if body.iter().take(512).any(binary) {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflects_status_headers_and_body() {
        let (s, h, b) = reflect_answer(br#"{"status": 503, "headers": {"X-A": "1", "Bad Name": "x"}, "body": "<html><body>hi"}"#);
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(b, b"<html><body>hi");
        assert!(h.iter().any(|(k, v)| k == "x-a" && v == "1"));
        assert!(h.iter().any(|(k, v)| k == "content-type" && v == "text/html; charset=utf-8"));
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn encoded_body_and_errors() {
        let (s, _, b) = reflect_answer(br#"{"encodedBody": "SGk="}"#);
        assert_eq!((s, b.as_slice()), (StatusCode::OK, &b"Hi"[..]));
        assert_eq!(reflect_answer(b"not json").0, StatusCode::BAD_REQUEST);
        assert_eq!(reflect_answer(br#"{"status": 700}"#).0, StatusCode::BAD_REQUEST);
        assert_eq!(reflect_answer(br#"{"status": -1}"#).0, StatusCode::BAD_REQUEST);
        let (_, h, b) = reflect_answer(br#"{}"#);
        assert!(h.is_empty() && b.is_empty());
    }

    #[test]
    fn sniffs_like_go() {
        assert_eq!(sniff(b"  <!doctype html>"), "text/html; charset=utf-8");
        assert_eq!(sniff(b"<?xml version"), "text/xml; charset=utf-8");
        assert_eq!(sniff(b"{\"a\":1}"), "text/plain; charset=utf-8");
        assert_eq!(sniff(b"\x00\x01"), "application/octet-stream");
    }
}
