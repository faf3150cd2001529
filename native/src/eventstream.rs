//! The AWS event stream's binary frames, the twin of `tinyagent/wire/_eventstream.py`,
//! rule for rule and word for word: both CRC32s checked, fed in pieces of any size,
//! each frame handed on as `{"<type>":<payload>}` (the `:event-type`, the
//! `:exception-type`, or `error`), a frame without a type skipped.

use crate::sse::Sink;

const PRELUDE: usize = 12;
const OVERHEAD: usize = 16;

/// CRC-32 (IEEE, as zlib's `crc32`), with the CPU's carry-less multiply where it has one.
fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn corrupt(why: &str) -> String {
    format!("corrupt event stream: {why}")
}

/// A header type's fixed value size (0 and 1 are true and false), or None.
fn fixed_size(kind: u8) -> Option<usize> {
    match kind {
        0 | 1 => Some(0),
        2 => Some(1),
        3 => Some(2),
        4 => Some(4),
        5 | 8 => Some(8),
        9 => Some(16),
        _ => None,
    }
}

fn plain_name(name: &[u8]) -> bool {
    (1..=128).contains(&name.len())
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

pub struct EventStreamDecoder {
    max: usize,
    buf: Vec<u8>,
    payload: Vec<u8>,
}

impl EventStreamDecoder {
    pub fn new(max: usize) -> Self {
        EventStreamDecoder {
            max,
            buf: Vec::new(),
            payload: Vec::new(),
        }
    }

    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Feed one read; each complete frame's payload goes to `out`. An error is the
    /// whole message Python shows (the frames before it were handed on).
    pub fn feed(&mut self, chunk: &[u8], out: &mut impl Sink) -> Result<(), String> {
        self.buf.extend_from_slice(chunk);
        let mut start = 0;
        let res = loop {
            let rest = &self.buf[start..];
            if rest.len() < PRELUDE {
                break Ok(());
            }
            let total = be32(&rest[0..4]) as usize;
            let header_len = be32(&rest[4..8]) as usize;
            if crc32(&rest[0..8]) != be32(&rest[8..12]) {
                break Err(corrupt("a frame's prelude fails its CRC32"));
            }
            if total > self.max {
                break Err(format!(
                    "event stream frame of {total} bytes, over the limit of {}",
                    self.max
                ));
            }
            if total < OVERHEAD || header_len > total - OVERHEAD {
                break Err(corrupt(&format!(
                    "a frame of {total} bytes cannot hold {header_len} of headers"
                )));
            }
            if rest.len() < total {
                break Ok(());
            }
            let frame = &rest[..total];
            start += total;
            if crc32(&frame[..total - 4]) != be32(&frame[total - 4..]) {
                break Err(corrupt("a frame fails its CRC32"));
            }
            let body = &frame[PRELUDE + header_len..total - 4];
            match payload_of(
                &frame[PRELUDE..PRELUDE + header_len],
                body,
                &mut self.payload,
            ) {
                Ok(true) => out.payload(&self.payload),
                Ok(false) => {}
                Err(why) => break Err(why),
            }
        };
        if res.is_err() {
            self.buf.clear();
        } else {
            self.buf.drain(..start);
        }
        res
    }
}

/// The frame's payload for the parser in `into` (true), or false for a frame with no
/// type; an error for headers that cannot be read.
fn payload_of(raw: &[u8], body: &[u8], into: &mut Vec<u8>) -> Result<bool, String> {
    let cut = || corrupt("a frame's headers are cut short");
    let (mut message_type, mut event_type, mut exception_type): (
        &[u8],
        Option<&[u8]>,
        Option<&[u8]>,
    ) = (b"event", None, None);
    let (mut i, end) = (0usize, raw.len());
    while i < end {
        let size = raw[i] as usize;
        let name_end = i + 1 + size;
        if size == 0 || name_end > end {
            return Err(cut());
        }
        let name = &raw[i + 1..name_end];
        i = name_end;
        if i >= end {
            return Err(cut());
        }
        let kind = raw[i];
        i += 1;
        if kind == 6 || kind == 7 {
            if i + 2 > end {
                return Err(cut());
            }
            let length = u16::from_be_bytes([raw[i], raw[i + 1]]) as usize;
            if i + 2 + length > end {
                return Err(cut());
            }
            let value = &raw[i + 2..i + 2 + length];
            i += 2 + length;
            if kind == 7 {
                match name {
                    b":message-type" => message_type = value,
                    b":event-type" => event_type = Some(value),
                    b":exception-type" => exception_type = Some(value),
                    _ => {}
                }
            }
        } else if let Some(n) = fixed_size(kind) {
            i += n;
            if i > end {
                return Err(cut());
            }
        } else {
            return Err(corrupt(&format!("a header of unknown type {kind}")));
        }
    }
    let name: &[u8] = match message_type {
        b"error" => b"error",
        b"exception" => match exception_type {
            Some(n) => n,
            None => return Ok(false),
        },
        _ => match event_type {
            Some(n) => n,
            None => return Ok(false), // no type: nothing a parser could place
        },
    };
    if !plain_name(name) {
        return Err(corrupt("a frame's type is not a plain name"));
    }
    into.clear();
    into.extend_from_slice(b"{\"");
    into.extend_from_slice(name);
    into.extend_from_slice(b"\":");
    into.extend_from_slice(if body.is_empty() { b"null" } else { body });
    into.push(b'}');
    Ok(true)
}

#[cfg(test)]
pub fn encode_frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut raw = Vec::new();
    for (k, v) in headers {
        raw.push(k.len() as u8);
        raw.extend_from_slice(k.as_bytes());
        raw.push(7);
        raw.extend_from_slice(&(v.len() as u16).to_be_bytes());
        raw.extend_from_slice(v.as_bytes());
    }
    let total = (OVERHEAD + raw.len() + payload.len()) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&(raw.len() as u32).to_be_bytes());
    let c = crc32(&out);
    out.extend_from_slice(&c.to_be_bytes());
    out.extend_from_slice(&raw);
    out.extend_from_slice(payload);
    let c = crc32(&out);
    out.extend_from_slice(&c.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_is_zlibs() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn frames_in_any_split_and_corruption() {
        let a = encode_frame(
            &[(":event-type", "messageStart"), (":message-type", "event")],
            b"{\"role\":\"assistant\"}",
        );
        let b = encode_frame(
            &[
                (":exception-type", "throttlingException"),
                (":message-type", "exception"),
            ],
            b"{\"message\":\"slow down\"}",
        );
        let body = [a.clone(), b.clone()].concat();
        for split in 0..body.len() {
            let mut d = EventStreamDecoder::new(1 << 20);
            let mut out: Vec<Vec<u8>> = Vec::new();
            d.feed(&body[..split], &mut out).unwrap();
            d.feed(&body[split..], &mut out).unwrap();
            assert_eq!(
                out,
                vec![
                    b"{\"messageStart\":{\"role\":\"assistant\"}}".to_vec(),
                    b"{\"throttlingException\":{\"message\":\"slow down\"}}".to_vec(),
                ]
            );
            assert!(!d.has_partial());
        }
        let mut bad = a.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let mut out: Vec<Vec<u8>> = Vec::new();
        let err = EventStreamDecoder::new(1 << 20)
            .feed(&bad, &mut out)
            .unwrap_err();
        assert_eq!(err, "corrupt event stream: a frame fails its CRC32");
        let mut bad = a;
        bad[1] ^= 1;
        let err = EventStreamDecoder::new(1 << 20)
            .feed(&bad, &mut out)
            .unwrap_err();
        assert_eq!(
            err,
            "corrupt event stream: a frame's prelude fails its CRC32"
        );
    }
}
