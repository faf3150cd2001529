//! The wire formats this core speaks, by the name Python passes: the one place that
//! names them all (each format knows only the `WireFormat` trait).

use crate::anthropic::AnthropicCore;
use crate::assembler::Ev;
use crate::bedrock::BedrockCore;
use crate::chat::ChatCore;
use crate::gemini::GeminiCore;
use crate::parser::StreamParser;
use crate::proxy::ProxyCore;
use crate::responses::ResponsesCore;

/// The same call on whichever format `$parser` holds.
macro_rules! each {
    ($parser:expr, $p:ident => $call:expr) => {
        match $parser {
            AnyParser::Chat($p) => $call,
            AnyParser::Anthropic($p) => $call,
            AnyParser::Responses($p) => $call,
            AnyParser::Gemini($p) => $call,
            AnyParser::Bedrock($p) => $call,
            AnyParser::Proxy($p) => $call,
        }
    };
}

/// A parser for any wire format this core speaks, chosen by name.
pub enum AnyParser {
    Chat(StreamParser<ChatCore>),
    Anthropic(StreamParser<AnthropicCore>),
    Responses(StreamParser<ResponsesCore>),
    Gemini(StreamParser<GeminiCore>),
    Bedrock(StreamParser<BedrockCore>),
    Proxy(StreamParser<ProxyCore>),
}

pub const FORMATS: &str =
    "openai-chat, anthropic-messages, openai-responses, google-gemini, bedrock-converse, proxy";

impl AnyParser {
    pub fn new(format: &str, max_line: usize, max_args: usize, think_tags: bool) -> Option<Self> {
        match format {
            "openai-chat" => Some(AnyParser::Chat(StreamParser::new(
                max_line,
                ChatCore::new(max_args, think_tags),
            ))),
            "anthropic-messages" => Some(AnyParser::Anthropic(StreamParser::new(
                max_line,
                AnthropicCore::new(max_args, think_tags),
            ))),
            "openai-responses" => Some(AnyParser::Responses(StreamParser::new(
                max_line,
                ResponsesCore::new(max_args, think_tags),
            ))),
            "google-gemini" => Some(AnyParser::Gemini(StreamParser::new(
                max_line,
                GeminiCore::new(max_args, think_tags),
            ))),
            "bedrock-converse" => Some(AnyParser::Bedrock(StreamParser::with_event_stream(
                max_line,
                BedrockCore::new(max_args, think_tags),
            ))),
            "proxy" => Some(AnyParser::Proxy(StreamParser::new(
                max_line,
                ProxyCore::new(max_args, think_tags),
            ))),
            _ => None,
        }
    }

    pub fn finished(&self) -> bool {
        each!(self, p => p.finished())
    }

    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Ev>) {
        each!(self, p => p.feed(chunk, out))
    }

    pub fn end_of_stream(&mut self, out: &mut Vec<Ev>) {
        each!(self, p => p.end_of_stream(out))
    }

    pub fn close(&mut self, out: &mut Vec<Ev>) {
        each!(self, p => p.close(out))
    }
}
