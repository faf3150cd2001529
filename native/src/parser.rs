//! The SSE decoder and one wire format together: response bytes in, `Ev` items out.
//! A wire format (`chat.rs`, `anthropic.rs`) reads SSE payloads and drives the shared
//! `Assembler`; `AnyParser` picks the format by the name Python passes.

use std::ops::DerefMut;

use crate::anthropic::AnthropicCore;
use crate::assembler::{Assembler, Ev, Fail};
use crate::chat::ChatCore;
use crate::responses::ResponsesCore;
use crate::sse::{Sink, SseDecoder};

/// One provider's wire format: payloads in, assembler calls out.
pub trait WireFormat: DerefMut<Target = Assembler> {
    fn payload(&mut self, data: &[u8], out: &mut Vec<Ev>);
    /// The body ended between events (no partial event held).
    fn end_of_stream(&mut self, out: &mut Vec<Ev>);
}

impl<F: WireFormat> Sink for (&mut F, &mut Vec<Ev>) {
    fn payload(&mut self, data: &[u8]) {
        if !self.0.finished {
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
        StreamParser { sse: SseDecoder::new(max_line), core }
    }

    pub fn finished(&self) -> bool {
        self.core.finished
    }

    /// Feed one read of the response body.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Ev>) {
        if self.core.finished {
            return;
        }
        let res = self.sse.feed(chunk, &mut (&mut self.core, &mut *out));
        if let Err(limit) = res {
            if !self.core.finished {
                self.core.fail(Fail::Limit(limit), out);
            }
        }
    }

    /// The body ended.
    pub fn end_of_stream(&mut self, out: &mut Vec<Ev>) {
        if self.core.finished {
            return;
        }
        if self.sse.has_partial() {
            self.core.fail(Fail::TruncatedEvent, out);
        } else {
            self.core.end_of_stream(out);
        }
    }

    /// End blocks now (cancellation, transport failure); the caller builds the message.
    pub fn close(&mut self, out: &mut Vec<Ev>) {
        self.core.close(out);
    }

    #[cfg(test)]
    pub fn meta(&self) -> crate::assembler::Meta {
        self.core.meta.clone()
    }
}

/// A parser for any wire format this core speaks, chosen by name.
pub enum AnyParser {
    Chat(StreamParser<ChatCore>),
    Anthropic(StreamParser<AnthropicCore>),
    Responses(StreamParser<ResponsesCore>),
}

pub const FORMATS: &str = "openai-chat, anthropic-messages, openai-responses";

impl AnyParser {
    pub fn new(format: &str, max_line: usize, max_args: usize, think_tags: bool) -> Option<Self> {
        match format {
            "openai-chat" => {
                Some(AnyParser::Chat(StreamParser::new(max_line, ChatCore::new(max_args, think_tags))))
            }
            "anthropic-messages" => {
                Some(AnyParser::Anthropic(StreamParser::new(max_line, AnthropicCore::new(max_args, think_tags))))
            }
            "openai-responses" => {
                Some(AnyParser::Responses(StreamParser::new(max_line, ResponsesCore::new(max_args, think_tags))))
            }
            _ => None,
        }
    }

    pub fn finished(&self) -> bool {
        match self {
            AnyParser::Chat(p) => p.finished(),
            AnyParser::Anthropic(p) => p.finished(),
            AnyParser::Responses(p) => p.finished(),
        }
    }

    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Ev>) {
        match self {
            AnyParser::Chat(p) => p.feed(chunk, out),
            AnyParser::Anthropic(p) => p.feed(chunk, out),
            AnyParser::Responses(p) => p.feed(chunk, out),
        }
    }

    pub fn end_of_stream(&mut self, out: &mut Vec<Ev>) {
        match self {
            AnyParser::Chat(p) => p.end_of_stream(out),
            AnyParser::Anthropic(p) => p.end_of_stream(out),
            AnyParser::Responses(p) => p.end_of_stream(out),
        }
    }

    pub fn close(&mut self, out: &mut Vec<Ev>) {
        match self {
            AnyParser::Chat(p) => p.close(out),
            AnyParser::Anthropic(p) => p.close(out),
            AnyParser::Responses(p) => p.close(out),
        }
    }
}
