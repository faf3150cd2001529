//! How an answer reads, the same as on httpx: which success is a whole body, how big a
//! head may be, and what a reqwest failure is (a refused certificate, a proxy that
//! refused the tunnel, a body that does not decode...). `transport.rs` moves the bytes;
//! this says what came.

use std::time::Duration;

/// Whether a 200's content type says a whole document, not a stream: the rule of
/// `tinyagent/transports/_whole.py`, the same on every transport.
pub(crate) fn is_whole_body(status: u16, content_type: &str) -> bool {
    if status == 204 || status == 205 {
        return true; // no content, by definition: said as such, not as a cut stream
    }
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        media.as_str(),
        "application/json" | "text/html" | "application/xhtml+xml" | "text/xml" | "application/xml"
    ) || media.ends_with("+json")
}

/// A reqwest failure as a transport failure's kind (the words Python maps, the same
/// as httpx's) and reqwest's own detail.
pub(crate) fn failure_kind(e: &reqwest::Error) -> (&'static str, String) {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = format!("{detail}: {s}");
        source = s.source();
    }
    let kind = if e.is_connect() && e.is_timeout() {
        "connect_timeout"
    } else if e.is_connect() && refused_certificate(e) {
        "tls"
    } else if e.is_connect() && chain_says(e, "tunnel error: proxy authorization required") {
        "proxy_auth"
    } else if e.is_connect() && chain_says(e, "tunnel error: unsuccessful") {
        "proxy_refused"
    } else if e.is_connect() {
        "connect"
    } else if e.is_timeout() {
        "read_timeout"
    } else if e.is_decode() {
        match decode_cause(e) {
            DecodeCause::Corrupt => "decode",
            // The connection broke under the decoder: as with no encoding. (A compressed
            // stream cut at a whole body's end is no failure: `compressed_stream_cut`.)
            DecodeCause::Connection | DecodeCause::EndedEarly => "closed",
        }
    } else if e.is_body() {
        "closed"
    } else {
        "other"
    };
    (kind, detail)
}

/// What a whole body (an error's, or a document's) is said to be when it does not
/// decode by its content-encoding: the same words as httpx's path (`_httpx.py`).
const UNDECODABLE: &[u8] = b"(a body that does not decode by its content-encoding)";

/// A whole body, or its first `limit` bytes: what arrived, if reading it broke (it says
/// what the server sent), unless it does not decode, which is said instead.
pub(crate) async fn read_body(
    response: &mut reqwest::Response,
    limit: usize,
    wait: Duration,
) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match tokio::time::timeout(wait, response.chunk()).await {
            Ok(Ok(Some(b))) => body.extend_from_slice(&b),
            Ok(Err(e)) if e.is_decode() && matches!(decode_cause(&e), DecodeCause::Corrupt) => {
                return UNDECODABLE.to_vec();
            }
            _ => break,
        }
    }
    body.truncate(limit);
    body
}

/// The largest response head read, as httpx's h11 reads it (hyper reads up to ~400 KiB;
/// both read up to 100 header lines), so that an answer reads the same on both.
pub(crate) const MAX_HEAD_BYTES: usize = 100 * 1024;

/// A response head's size as sent, about: each header line and the status line.
pub(crate) fn head_size(response: &reqwest::Response) -> usize {
    let lines: usize = response
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    lines + 17
}

type Cause = dyn std::error::Error + 'static;

/// Every error under `e`, outermost first. An I/O error's `source` skips the error it
/// wraps (and I/O errors nest under reqwest's), so each one's inner error comes too.
fn causes(e: &reqwest::Error) -> Vec<&Cause> {
    let mut out = Vec::new();
    let mut next: Vec<&Cause> = std::error::Error::source(e).into_iter().collect();
    while let Some(err) = next.pop() {
        if out.len() > 32 {
            break; // a chain is short; a loop in one is not followed
        }
        out.push(err);
        next.extend(err.source());
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            next.push(inner);
        }
    }
    out
}

/// Whether a connection failed because the server's certificate was refused (rustls:
/// an unknown issuer, another name, expired...), which no retry cures and whose remedy
/// (a CA bundle) the message names.
fn refused_certificate(e: &reqwest::Error) -> bool {
    causes(e).into_iter().any(|c| {
        matches!(
            c.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(_))
        )
    })
}

/// Whether an error under `e` reads `words`: hyper-util's tunnel error is private, so
/// its words are what tells a proxy that refused the CONNECT (a 407, or another status)
/// from one that could not be reached.
fn chain_says(e: &reqwest::Error, words: &str) -> bool {
    causes(e).into_iter().any(|c| c.to_string() == words)
}

/// The hyper error under a reqwest error, if there is one.
pub(crate) fn hyper_error(e: &reqwest::Error) -> Option<&hyper::Error> {
    causes(e)
        .into_iter()
        .find_map(|c| c.downcast_ref::<hyper::Error>())
}

/// Whether a body ended whole while its compressed stream had not: the end of the
/// stream, not a failure of the connection.
pub(crate) fn compressed_stream_cut(e: &reqwest::Error) -> bool {
    e.is_decode() && matches!(decode_cause(e), DecodeCause::EndedEarly)
}

enum DecodeCause {
    Connection,
    EndedEarly,
    Corrupt,
}

/// Why a compressed body could not be decoded: a connection that broke (a hyper error
/// under the decoder), a compressed stream cut short at a whole body's end (the
/// decoder's own end-of-file), or bytes that are no such stream.
fn decode_cause(e: &reqwest::Error) -> DecodeCause {
    for c in causes(e) {
        if c.downcast_ref::<hyper::Error>().is_some() {
            return DecodeCause::Connection;
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::UnexpectedEof && io.get_ref().is_none() {
                return DecodeCause::EndedEarly;
            }
        }
    }
    DecodeCause::Corrupt
}
