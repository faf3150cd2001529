//! Sans-IO SSE decoder (WHATWG EventSource rules), the same state machine as
//! `tinyagent/_sse.py`: bytes in, `data` payloads out. Only `data` matters to the
//! chat parser; `event`, `id` and `retry` are parsed and ignored like the Python path's
//! `feed_data`.

/// Which bound a stream broke; Python formats the message, so both paths say the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseLimit {
    /// An unfinished line grew past the bound.
    Pending,
    /// One event's data grew past the bound.
    Data,
    /// A complete non-data line was longer than the bound.
    Line,
}

/// Receives each event's data as it is completed.
pub trait Sink {
    fn payload(&mut self, data: &[u8]);
}

impl Sink for Vec<Vec<u8>> {
    fn payload(&mut self, data: &[u8]) {
        self.push(data.to_vec());
    }
}

pub struct SseDecoder {
    max: usize,
    pending: Vec<u8>,
    skip_lf: bool,
    bom_done: bool,
    data: Vec<u8>,
    data_lines: usize,
    data_size: usize,
}

const BOM: &[u8] = b"\xef\xbb\xbf";

impl SseDecoder {
    pub fn new(max: usize) -> Self {
        SseDecoder {
            max,
            pending: Vec::new(),
            skip_lf: false,
            bom_done: false,
            data: Vec::new(),
            data_lines: 0,
            data_size: 0,
        }
    }

    /// True if bytes of an unfinished line or event are held (a truncated stream).
    pub fn has_partial(&self) -> bool {
        !self.pending.is_empty() || self.data_lines > 0
    }

    /// Consume one read. Completed payloads are pushed to `out` even when a bound is
    /// broken later in the same read; the error comes back after them.
    pub fn feed(&mut self, chunk: &[u8], out: &mut impl Sink) -> Result<(), SseLimit> {
        let mut chunk: &[u8] = chunk;
        if chunk.is_empty() {
            return Ok(());
        }
        if self.skip_lf {
            self.skip_lf = false;
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
                if chunk.is_empty() {
                    return Ok(());
                }
            }
        }
        let normalised: Vec<u8>;
        if memchr::memchr(b'\r', chunk).is_some() {
            self.skip_lf = *chunk.last().unwrap() == b'\r';
            // CRLF and a lone CR become LF: the runs between CRs are copied whole (Gemini
            // ends every line with CRLF, so this is its every read).
            let mut v = Vec::with_capacity(chunk.len());
            let mut start = 0;
            for i in memchr::memchr_iter(b'\r', chunk) {
                v.extend_from_slice(&chunk[start..i]);
                v.push(b'\n');
                start = if chunk.get(i + 1) == Some(&b'\n') {
                    i + 2
                } else {
                    i + 1
                };
            }
            v.extend_from_slice(&chunk[start..]);
            normalised = v;
            chunk = &normalised;
        }
        let headed: Vec<u8>;
        if !self.bom_done {
            let mut head = std::mem::take(&mut self.pending);
            head.extend_from_slice(chunk);
            if head.len() < 3 && BOM.starts_with(&head) {
                self.pending = head;
                return Ok(());
            }
            self.bom_done = true;
            if head.starts_with(BOM) {
                head.drain(..3);
            }
            headed = head;
            chunk = &headed;
        }
        match memchr::memrchr(b'\n', chunk) {
            None => {
                self.pending.extend_from_slice(chunk);
            }
            Some(end) => {
                let rest = &chunk[end + 1..];
                if self.pending.is_empty() {
                    self.lines(&chunk[..end], out)?;
                } else {
                    let mut block = std::mem::take(&mut self.pending);
                    block.extend_from_slice(&chunk[..end]);
                    self.lines(&block, out)?;
                }
                self.pending.clear();
                self.pending.extend_from_slice(rest);
            }
        }
        if self.pending.len() > self.max {
            return Err(SseLimit::Pending);
        }
        Ok(())
    }

    /// Complete lines, LF-separated. A one-line `data` event whose blank line is in the
    /// same block is handed to the sink straight from `block`, without a copy.
    fn lines(&mut self, block: &[u8], out: &mut impl Sink) -> Result<(), SseLimit> {
        let mut single: Option<(usize, usize)> = None;
        let mut start = 0;
        let result = loop {
            let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |i| start + i);
            let line = &block[start..end];
            if let Err(e) = self.line(block, start, line, &mut single, out) {
                break Err(e);
            }
            if end == block.len() {
                break Ok(());
            }
            start = end + 1;
        };
        if let Some((a, b)) = single {
            // The event goes on in the next read: keep its data.
            self.data.clear();
            self.data.extend_from_slice(&block[a..b]);
        }
        result
    }

    fn line(
        &mut self,
        block: &[u8],
        start: usize,
        line: &[u8],
        single: &mut Option<(usize, usize)>,
        out: &mut impl Sink,
    ) -> Result<(), SseLimit> {
        if line.is_empty() {
            if let Some((a, b)) = single.take() {
                out.payload(&block[a..b]);
            } else if self.data_lines > 0 {
                out.payload(&self.data);
                self.data.clear();
            }
            self.data_lines = 0;
            self.data_size = 0;
            return Ok(());
        }
        if line.starts_with(b"data:") {
            let skip = if line.get(5) == Some(&b' ') { 6 } else { 5 };
            let value = &line[skip..];
            self.data_size += value.len() + 1;
            if self.data_size > self.max || line.len() > self.max {
                return Err(SseLimit::Data);
            }
            if self.data_lines == 0 {
                *single = Some((start + skip, start + line.len()));
                self.data_lines = 1;
            } else {
                if let Some((a, b)) = single.take() {
                    self.data.clear();
                    self.data.extend_from_slice(&block[a..b]);
                }
                self.push_data(value);
            }
            return Ok(());
        }
        if line.len() > self.max {
            return Err(SseLimit::Line);
        }
        if line[0] == b':' {
            return Ok(());
        }
        if line == b"data" {
            // "data" with no colon: an empty data line.
            if let Some((a, b)) = single.take() {
                self.data.clear();
                self.data.extend_from_slice(&block[a..b]);
            }
            self.push_data(b"");
            self.data_size += 1;
            if self.data_size > self.max {
                return Err(SseLimit::Data);
            }
        }
        // event, id, retry and unknown fields do not change the payloads.
        Ok(())
    }

    fn push_data(&mut self, value: &[u8]) {
        if self.data_lines > 0 {
            self.data.push(b'\n');
        }
        self.data.extend_from_slice(value);
        self.data_lines += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(reads: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut d = SseDecoder::new(1 << 20);
        let mut out = Vec::new();
        for r in reads {
            d.feed(r, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn line_endings_and_split_crlf() {
        assert_eq!(
            decode(&[b"data: a\r", b"\ndata: b\r\n\r\n"]),
            vec![b"a\nb".to_vec()]
        );
        assert_eq!(decode(&[b"data: x\r\r"]), vec![b"x".to_vec()]);
    }

    #[test]
    fn bom_split_and_comments() {
        assert_eq!(
            decode(&[b"\xef", b"\xbb", b"\xbf: c\ndata: x\n\n"]),
            vec![b"x".to_vec()]
        );
    }

    #[test]
    fn data_without_colon() {
        assert_eq!(decode(&[b"data\ndata:x\n\n"]), vec![b"\nx".to_vec()]);
    }

    #[test]
    fn limits() {
        let mut d = SseDecoder::new(10);
        let mut out = Vec::new();
        assert_eq!(
            d.feed(b"data: 1\n\n0123456789012", &mut out),
            Err(SseLimit::Pending)
        );
        assert_eq!(out, vec![b"1".to_vec()]);
    }
}
