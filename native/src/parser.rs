//! The SSE decoder and one wire format together: response bytes in, `Ev` items out.
//! A wire format (`chat.rs`, `anthropic.rs`) reads SSE payloads and drives the shared
//! `Assembler` it holds. Which formats exist is `formats.rs`'s business, not this one's.

use crate::assembler::{Assembler, Ev, Fail};
use crate::eventstream::EventStreamDecoder;
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

/// Where the framing decoder hands payloads: the format, its output, and whether any
/// payload came at all.
struct PayloadSink<'a, F> {
    core: &'a mut F,
    out: &'a mut Vec<Ev>,
    any: &'a mut bool,
}

impl<F: WireFormat> Sink for PayloadSink<'_, F> {
    fn payload(&mut self, data: &[u8]) {
        *self.any = true;
        if !self.core.assembler().finished {
            self.core.payload(data, self.out);
        }
    }
}

/// How much of a body with no event is kept to say what it was.
const HEAD_KEPT: usize = 200;

/// How a body is cut into payloads: SSE `data`, or the AWS event stream's frames.
enum Framing {
    Sse(SseDecoder),
    Events(EventStreamDecoder),
}

/// The framing decoder and the format, kept apart so the decoder can hand each payload
/// straight to the format without a copy.
pub struct StreamParser<F> {
    framing: Framing,
    core: F,
    /// Whether any payload came; until one does, the bytes seen and the first of them.
    any: bool,
    seen: usize,
    head: Vec<u8>,
}

impl<F: WireFormat> StreamParser<F> {
    pub fn new(max_line: usize, core: F) -> Self {
        StreamParser {
            framing: Framing::Sse(SseDecoder::new(max_line)),
            core,
            any: false,
            seen: 0,
            head: Vec::new(),
        }
    }

    /// A format whose bodies are AWS event-stream frames (`max_frame` bounds one).
    pub fn with_event_stream(max_frame: usize, core: F) -> Self {
        StreamParser {
            framing: Framing::Events(EventStreamDecoder::new(max_frame)),
            core,
            any: false,
            seen: 0,
            head: Vec::new(),
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
        if !self.any {
            self.seen += chunk.len();
            let room = HEAD_KEPT.saturating_sub(self.head.len());
            self.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        }
        let sink = &mut PayloadSink {
            core: &mut self.core,
            out: &mut *out,
            any: &mut self.any,
        };
        let failed = match &mut self.framing {
            Framing::Sse(sse) => sse.feed(chunk, sink).err().map(Fail::Limit),
            Framing::Events(events) => events.feed(chunk, sink).err().map(Fail::Frame),
        };
        if let Some(why) = failed {
            if !self.core.assembler().finished {
                self.core.assembler_mut().fail(why, out);
            }
        }
    }

    /// The body ended.
    pub fn end_of_stream(&mut self, out: &mut Vec<Ev>) {
        if self.core.assembler().finished {
            return;
        }
        let partial = match &self.framing {
            Framing::Sse(sse) => sse.has_partial(),
            Framing::Events(events) => events.has_partial(),
        };
        if !self.any {
            let head = std::mem::take(&mut self.head);
            self.core
                .assembler_mut()
                .fail(Fail::NoEvents(self.seen, head), out);
        } else if partial {
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
