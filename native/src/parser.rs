//! The SSE decoder and one wire format together: response bytes in, `Ev` items out.
//! A wire format (`chat.rs`, `anthropic.rs`) reads SSE payloads and drives the shared
//! `Assembler` it holds. Which formats exist is `formats.rs`'s business, not this one's.

use crate::assembler::{Assembler, Ev, Fail};
use crate::sse::{Sink, SseDecoder};

/// One provider's wire format: payloads in, calls on the `Assembler` it holds out.
pub trait WireFormat {
    /// The blocks being built (every format holds one; none inherits from it).
    fn assembler(&self) -> &Assembler;
    fn assembler_mut(&mut self) -> &mut Assembler;
    fn payload(&mut self, data: &[u8], out: &mut Vec<Ev>);
    /// The body ended between events (no partial event held).
    fn end_of_stream(&mut self, out: &mut Vec<Ev>);
}

impl<F: WireFormat> Sink for (&mut F, &mut Vec<Ev>) {
    fn payload(&mut self, data: &[u8]) {
        if !self.0.assembler().finished {
            self.0.payload(data, self.1);
        }
    }
}

/// The SSE decoder and the format, kept apart so the decoder can hand each payload
/// straight to the format without a copy.
pub struct StreamParser<F> {
    sse: SseDecoder,
    core: F,
}

impl<F: WireFormat> StreamParser<F> {
    pub fn new(max_line: usize, core: F) -> Self {
        StreamParser {
            sse: SseDecoder::new(max_line),
            core,
        }
    }

    pub fn finished(&self) -> bool {
        self.core.assembler().finished
    }

    /// Feed one read of the response body.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Ev>) {
        if self.core.assembler().finished {
            return;
        }
        let res = self.sse.feed(chunk, &mut (&mut self.core, &mut *out));
        if let Err(limit) = res {
            if !self.core.assembler().finished {
                self.core.assembler_mut().fail(Fail::Limit(limit), out);
            }
        }
    }

    /// The body ended.
    pub fn end_of_stream(&mut self, out: &mut Vec<Ev>) {
        if self.core.assembler().finished {
            return;
        }
        if self.sse.has_partial() {
            self.core.assembler_mut().fail(Fail::TruncatedEvent, out);
        } else {
            self.core.end_of_stream(out);
        }
    }

    /// End blocks now (cancellation, transport failure); the caller builds the message.
    pub fn close(&mut self, out: &mut Vec<Ev>) {
        self.core.assembler_mut().close(out);
    }

    #[cfg(test)]
    pub fn meta(&self) -> crate::assembler::Meta {
        self.core.assembler().meta.clone()
    }
}
