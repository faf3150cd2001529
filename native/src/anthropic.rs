//! The Anthropic Messages wire format: SSE payloads in, `Ev` items out.
//!
//! The twin of `tinyagent/providers/_anthropic_parser.py`, rule for rule: blocks keyed
//! by `index`, tool input joined from `input_json_delta` and parsed once at the end,
//! usage replaced field by field (cumulative), server-side and unknown blocks, deltas
//! and events skipped, `error` events and a body without `message_stop` reported.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};

use crate::assembler::{Assembler, Ev, Fail, Key};
use crate::parser::WireFormat;

#[derive(Clone, Copy, PartialEq)]
enum SlotKind {
    Text,
    Thinking,
    Tool,
    Other,
}

struct Slot {
    kind: SlotKind,
    start_input: Option<String>,
    has_delta: bool,
}

pub struct AnthropicCore {
    asm: Assembler,
    slots: HashMap<u64, Slot>,
    started: bool,
    message_id: Option<String>,
    /// input, output, cache_read, cache_write: replaced, never added.
    usage: [i64; 4],
}

impl Deref for AnthropicCore {
    type Target = Assembler;
    fn deref(&self) -> &Assembler {
        &self.asm
    }
}

impl DerefMut for AnthropicCore {
    fn deref_mut(&mut self) -> &mut Assembler {
        &mut self.asm
    }
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a RawValue>,
    #[serde(borrow, default)]
    index: Option<&'a RawValue>,
    #[serde(borrow, default)]
    delta: Option<&'a RawValue>,
    #[serde(borrow, default)]
    content_block: Option<&'a RawValue>,
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(borrow, default)]
    usage: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a RawValue>,
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    partial_json: Option<&'a RawValue>,
    #[serde(borrow, default)]
    thinking: Option<&'a RawValue>,
    #[serde(borrow, default)]
    signature: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stop_reason: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a RawValue>,
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    thinking: Option<&'a RawValue>,
    #[serde(borrow, default)]
    signature: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    usage: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct UsageFields<'a> {
    #[serde(borrow, default)]
    input_tokens: Option<&'a RawValue>,
    #[serde(borrow, default)]
    output_tokens: Option<&'a RawValue>,
    #[serde(borrow, default)]
    cache_read_input_tokens: Option<&'a RawValue>,
    #[serde(borrow, default)]
    cache_creation_input_tokens: Option<&'a RawValue>,
}

fn first_byte(raw: &RawValue) -> u8 {
    raw.get().as_bytes().first().copied().unwrap_or(b'n')
}

/// A JSON string's value (None for any other JSON type), as Python's `type(v) is str`.
fn as_str(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    let raw = raw?;
    if first_byte(raw) != b'"' {
        return None;
    }
    serde_json::from_str::<Cow<str>>(raw.get()).ok()
}

/// A JSON integer (Python's `type(v) is int`): no fraction, no exponent.
fn as_int(raw: Option<&RawValue>) -> Option<i64> {
    let text = raw?.get();
    let b = text.as_bytes().first().copied()?;
    if !(b == b'-' || b.is_ascii_digit()) || text.contains(['.', 'e', 'E']) {
        return None;
    }
    text.parse::<i64>().ok()
}

/// A block index: a non-negative JSON integer.
fn as_index(raw: Option<&RawValue>) -> Option<u64> {
    as_int(raw).and_then(|i| u64::try_from(i).ok())
}

/// A JSON object's fields, or None for any other JSON type.
fn as_obj<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<T> {
    let raw = raw?;
    if first_byte(raw) != b'{' {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

impl AnthropicCore {
    pub fn new(max_args: usize) -> Self {
        AnthropicCore {
            asm: Assembler::new(max_args),
            slots: HashMap::new(),
            started: false,
            message_id: None,
            usage: [0; 4],
        }
    }

    fn event(&mut self, ev: Event, data: &[u8], out: &mut Vec<Ev>) {
        let Some(kind) = as_str(ev.kind) else { return };
        match kind.as_ref() {
            "content_block_delta" => self.delta(&ev, out),
            "content_block_start" => self.block_start(&ev, out),
            "content_block_stop" => self.block_stop(&ev, out),
            "message_start" => self.message_start(&ev, data, out),
            "message_delta" => {
                if let Some(delta) = as_obj::<Delta>(ev.delta) {
                    if let Some(reason) = as_str(delta.stop_reason) {
                        if !reason.is_empty() {
                            self.meta.provider_stop_reason = Some(reason.into_owned());
                        }
                    }
                }
                self.take_usage(ev.usage);
            }
            "message_stop" => self.finish(out),
            "error" => self.fail(Fail::StreamError(data.to_vec()), out),
            _ => {} // ping and event types this version does not know
        }
    }

    fn message_start(&mut self, ev: &Event, data: &[u8], out: &mut Vec<Ev>) {
        let Some(msg) = as_obj::<Message>(ev.message) else { return };
        let mid = as_str(msg.id).map(Cow::into_owned);
        if self.started {
            if mid != self.message_id {
                // Two messages spliced into one body: nothing after this can be trusted.
                self.fail(Fail::Protocol(data.to_vec()), out);
            }
            return;
        }
        self.started = true;
        if mid.is_some() && self.meta.response_id.is_none() {
            self.meta.response_id = mid.clone();
        }
        self.message_id = mid;
        self.take_usage(msg.usage);
    }

    fn take_usage(&mut self, raw: Option<&RawValue>) {
        let Some(u) = as_obj::<UsageFields>(raw) else { return };
        let fields = [u.input_tokens, u.output_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens];
        for (slot, value) in self.usage.iter_mut().zip(fields) {
            if let Some(n) = as_int(value) {
                *slot = n;
            }
        }
        let [i, o, r, w] = self.usage;
        self.meta.usage = Some([i, o, r, w, 0]);
    }

    fn block_start(&mut self, ev: &Event, out: &mut Vec<Ev>) {
        let Some(index) = as_index(ev.index) else { return };
        if self.slots.contains_key(&index) {
            return;
        }
        let Some(block) = as_obj::<Block>(ev.content_block) else { return };
        let kind = as_str(block.kind);
        let slot = match kind.as_deref() {
            Some("text") => {
                if let Some(text) = as_str(block.text) {
                    if !text.is_empty() {
                        self.text(&text, out);
                    }
                }
                SlotKind::Text
            }
            Some("thinking") => {
                let text = as_str(block.thinking).unwrap_or_default();
                self.thinking(&text, out, true);
                if let Some(sig) = as_str(block.signature) {
                    if !sig.is_empty() {
                        self.thinking_signature(&sig, false);
                    }
                }
                SlotKind::Thinking
            }
            Some("redacted_thinking") => {
                self.thinking("", out, true);
                self.thinking_signature(&as_str(block.data).unwrap_or_default(), true);
                SlotKind::Thinking
            }
            Some("tool_use") => {
                let start_input = block.input.and_then(|raw| {
                    let v: Value = serde_json::from_str(raw.get()).ok()?;
                    match &v {
                        Value::Object(m) if !m.is_empty() => Some(v.to_string()),
                        _ => None,
                    }
                });
                let id = as_str(block.id).unwrap_or_default();
                let name = as_str(block.name).unwrap_or_default();
                self.tool_call(Key::int(index), Some(&id), Some(&name), None, out);
                self.slots.insert(index, Slot { kind: SlotKind::Tool, start_input, has_delta: false });
                return;
            }
            _ => SlotKind::Other, // server-side and unknown blocks
        };
        self.slots.insert(index, Slot { kind: slot, start_input: None, has_delta: false });
    }

    fn delta(&mut self, ev: &Event, out: &mut Vec<Ev>) {
        let Some(index) = as_index(ev.index) else { return };
        let Some(slot_kind) = self.slots.get(&index).map(|s| s.kind) else { return };
        let Some(delta) = as_obj::<Delta>(ev.delta) else { return };
        let Some(kind) = as_str(delta.kind) else { return };
        match kind.as_ref() {
            "text_delta" => {
                if let Some(text) = as_str(delta.text) {
                    if slot_kind == SlotKind::Text && !text.is_empty() {
                        self.text(&text, out);
                    }
                }
            }
            "input_json_delta" => {
                if let Some(part) = as_str(delta.partial_json) {
                    if slot_kind == SlotKind::Tool {
                        if let Some(s) = self.slots.get_mut(&index) {
                            s.has_delta = true;
                        }
                        if !part.is_empty() {
                            self.tool_call(Key::int(index), None, None, Some(&part), out);
                        }
                    }
                }
            }
            "thinking_delta" => {
                if let Some(text) = as_str(delta.thinking) {
                    if slot_kind == SlotKind::Thinking && !text.is_empty() {
                        self.thinking(&text, out, false);
                    }
                }
            }
            "signature_delta" => {
                if let Some(sig) = as_str(delta.signature) {
                    if slot_kind == SlotKind::Thinking && !sig.is_empty() {
                        self.thinking_signature(&sig, false);
                    }
                }
            }
            _ => {} // citations_delta, compaction_delta and unknown deltas
        }
    }

    fn block_stop(&mut self, ev: &Event, out: &mut Vec<Ev>) {
        let Some(index) = as_index(ev.index) else { return };
        let Some(slot) = self.slots.get(&index) else { return };
        match slot.kind {
            SlotKind::Tool => {
                let key = Key::int(index);
                if !slot.has_delta {
                    if let Some(input) = slot.start_input.clone() {
                        if !self.tool_call(key.clone(), None, None, Some(&input), out) {
                            return;
                        }
                    }
                }
                self.end_tool_call(&key, out);
            }
            SlotKind::Other => {}
            _ => self.end_current(out),
        }
    }
}

impl WireFormat for AnthropicCore {
    fn payload(&mut self, data: &[u8], out: &mut Vec<Ev>) {
        let lossy;
        let text: &str = match std::str::from_utf8(data) {
            Ok(t) => t,
            Err(_) => {
                // Python decodes with replacement before parsing; so do we.
                lossy = String::from_utf8_lossy(data).into_owned();
                &lossy
            }
        };
        let is_object = text.trim_start_matches([' ', '\t', '\n', '\r']).starts_with('{');
        match serde_json::from_str::<Event>(text) {
            Ok(ev) if is_object => self.event(ev, data, out),
            // Not a JSON object (or not JSON at all): Python words the error.
            _ => self.fail(Fail::BadJson(data.to_vec()), out),
        }
    }

    fn end_of_stream(&mut self, out: &mut Vec<Ev>) {
        self.fail(Fail::NoFinish, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assembler::Thinking;
    use crate::parser::StreamParser;

    fn run(body: &str) -> Vec<Ev> {
        let mut p = StreamParser::new(1 << 20, AnthropicCore::new(1 << 20));
        let mut out = Vec::new();
        p.feed(body.as_bytes(), &mut out);
        p.end_of_stream(&mut out);
        out
    }

    #[test]
    fn thinking_signature_tool_and_usage() {
        let body = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"usage\":{\"input_tokens\":43,\"output_tokens\":1}}}\n\n",
            "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hmm\"}}\n\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"SIG\"}}\n\n",
            "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
            "event: ping\ndata: {\"type\":\"ping\"}\n\n",
            "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"f\",\"input\":{}}}\n\n",
            "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
            "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
            "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"input_tokens\":61,\"output_tokens\":2}}\n\n",
            "data: {\"type\":\"message_stop\"}\n\n",
        );
        let out = run(body);
        let thinking = Thinking { text: "hmm".into(), signature: Some("SIG".into()), redacted: false };
        assert!(out.contains(&Ev::ThinkingEnd(0, thinking)));
        assert!(out.contains(&Ev::ToolEnd(1, "t1".into(), "f".into(), String::new())));
        match out.last() {
            Some(Ev::Finish(meta)) => {
                assert_eq!(meta.usage, Some([61, 2, 0, 0, 0]));
                assert_eq!(meta.provider_stop_reason.as_deref(), Some("tool_use"));
                assert_eq!(meta.response_id.as_deref(), Some("msg_1"));
            }
            other => panic!("expected a finish, got {other:?}"),
        }
    }

    #[test]
    fn truncated_error_and_splice() {
        let start = "data: {\"type\":\"message_start\",\"message\":{\"id\":\"a\"}}\n\n";
        assert!(matches!(run(start).last(), Some(Ev::Fail(Fail::NoFinish, _))));
        let err = format!("{start}data: {{\"type\":\"error\",\"error\":{{\"type\":\"overloaded_error\"}}}}\n\n");
        assert!(matches!(run(&err).last(), Some(Ev::Fail(Fail::StreamError(_), _))));
        let splice = format!("{start}{start}data: {{\"type\":\"message_start\",\"message\":{{\"id\":\"b\"}}}}\n\n");
        assert!(matches!(run(&splice).last(), Some(Ev::Fail(Fail::Protocol(_), _))));
    }
}
