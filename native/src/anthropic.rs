//! The Anthropic Messages wire format: SSE payloads in, `Ev` items out.
//!
//! The twin of `tinyagent/providers/_anthropic_parser.py`, rule for rule: blocks keyed
//! by `index`, tool input joined from `input_json_delta` and parsed once at the end,
//! usage replaced field by field (cumulative), server-side and unknown blocks, deltas
//! and events skipped, `error` events and a body without `message_stop` reported.

use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

use crate::assembler::{Assembler, Ev, Fail, Key as BlockKey};
use crate::json::{
    as_index, as_int, as_obj, as_str, cut_to_argument_depth, parse, with_object, Fields, Layout,
};
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

/// What a delta string does: append text, tool input or thinking to a block.
#[derive(Clone, Copy, PartialEq)]
enum DeltaKind {
    Text,
    Input,
    Thinking,
}

/// A remembered `content_block_delta` layout (see [`Layout`]): the same bytes around a
/// new string mean the same index and delta type (the effect is still decided by the
/// block's current state).
struct Template {
    layout: Layout,
    index: u64,
    kind: DeltaKind,
    /// The block's kind: fixed once the block started (a second start for the same
    /// index is ignored), so the fast path needs no lookup.
    slot: SlotKind,
}

pub struct AnthropicCore {
    asm: Assembler,
    template: Option<Template>,
    slots: HashMap<u64, Slot>,
    started: bool,
    message_id: Option<String>,
    /// input, output, cache_read, cache_write: replaced, never added.
    usage: [i64; 4],
}

impl AnthropicCore {
    pub fn new(max_args: usize, think_tags: bool) -> Self {
        AnthropicCore {
            asm: Assembler::new(max_args, think_tags),
            template: None,
            slots: HashMap::new(),
            started: false,
            message_id: None,
            usage: [0; 4],
        }
    }

    fn event(&mut self, ev: Fields, data: &[u8], out: &mut Vec<Ev>) {
        let Some(kind) = as_str(ev.get("type")) else {
            return;
        };
        match kind.as_ref() {
            "content_block_delta" => self.delta(&ev, data, out),
            "content_block_start" => self.block_start(&ev, data, out),
            "content_block_stop" => self.block_stop(&ev, data, out),
            "message_start" => self.message_start(&ev, data, out),
            "message_delta" => {
                if let Some(delta) = as_obj(ev.get("delta")) {
                    if let Some(reason) = as_str(delta.get("stop_reason")) {
                        if !reason.is_empty() {
                            self.asm.meta.provider_stop_reason = Some(reason.into_owned());
                        }
                    }
                }
                self.take_usage(ev.get("usage"));
            }
            "message_stop" => self.asm.finish(out),
            "error" => self.asm.fail(Fail::StreamError(data.to_vec()), out),
            _ => {} // ping and event types this version does not know
        }
    }

    fn message_start(&mut self, ev: &Fields, data: &[u8], out: &mut Vec<Ev>) {
        let Some(msg) = as_obj(ev.get("message")) else {
            return;
        };
        let mid = as_str(msg.get("id")).map(Cow::into_owned);
        if self.started {
            if mid != self.message_id {
                // Two messages spliced into one body: nothing after this can be trusted.
                self.asm.fail(Fail::Protocol(data.to_vec()), out);
            }
            return;
        }
        self.started = true;
        if mid.is_some() && self.asm.meta.response_id.is_none() {
            self.asm.meta.response_id = mid.clone();
        }
        self.message_id = mid;
        self.take_usage(msg.get("usage"));
    }

    fn take_usage(&mut self, raw: Option<&RawValue>) {
        let Some(u) = as_obj(raw) else { return };
        let fields = [
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ]
        .map(|k| u.get(k));
        for (slot, value) in self.usage.iter_mut().zip(fields) {
            if let Some(n) = as_int(value) {
                *slot = n;
            }
        }
        let [i, o, r, w] = self.usage;
        self.asm.meta.usage = Some([i, o, r, w, 0]);
    }

    fn block_start(&mut self, ev: &Fields, data: &[u8], out: &mut Vec<Ev>) {
        // A block with no index, one started twice, or no block: what follows cannot
        // be placed, so the reply cannot be trusted.
        let index = as_index(ev.get("index"));
        let block = as_obj(ev.get("content_block"));
        let (Some(index), Some(block)) = (index, block) else {
            self.asm.fail(Fail::Protocol(data.to_vec()), out);
            return;
        };
        if self.slots.contains_key(&index) {
            self.asm.fail(Fail::Protocol(data.to_vec()), out);
            return;
        }
        let kind = as_str(block.get("type"));
        let slot = match kind.as_deref() {
            Some("text") => {
                if let Some(text) = as_str(block.get("text")) {
                    if !text.is_empty() {
                        self.asm.text(&text, out);
                    }
                }
                SlotKind::Text
            }
            Some("thinking") => {
                let text = as_str(block.get("thinking")).unwrap_or_default();
                self.asm.thinking(&text, out, true);
                if let Some(sig) = as_str(block.get("signature")) {
                    if !sig.is_empty() {
                        self.asm.thinking_signature(&sig, false);
                    }
                }
                SlotKind::Thinking
            }
            Some("redacted_thinking") => {
                self.asm.thinking("", out, true);
                self.asm
                    .thinking_signature(&as_str(block.get("data")).unwrap_or_default(), true);
                SlotKind::Thinking
            }
            Some("tool_use") => {
                let start_input = block.get("input").and_then(|raw| {
                    let v: Value = parse(raw.get()).ok()?;
                    let non_empty = matches!(&v, Value::Object(m) if !m.is_empty());
                    non_empty.then(|| cut_to_argument_depth(v).to_string())
                });
                let id = as_str(block.get("id")).unwrap_or_default();
                let name = as_str(block.get("name")).unwrap_or_default();
                self.asm
                    .tool_call(BlockKey::int(index), Some(&id), Some(&name), None, out);
                self.slots.insert(
                    index,
                    Slot {
                        kind: SlotKind::Tool,
                        start_input,
                        has_delta: false,
                    },
                );
                return;
            }
            _ => SlotKind::Other, // server-side and unknown blocks
        };
        self.slots.insert(
            index,
            Slot {
                kind: slot,
                start_input: None,
                has_delta: false,
            },
        );
    }

    fn delta(&mut self, ev: &Fields, data: &[u8], out: &mut Vec<Ev>) {
        // A delta for a block never started: its content has no place.
        let Some(index) = as_index(ev.get("index")).filter(|i| self.slots.contains_key(i)) else {
            self.asm.fail(Fail::Protocol(data.to_vec()), out);
            return;
        };
        let Some(delta) = as_obj(ev.get("delta")) else {
            return;
        };
        let Some(kind) = as_str(delta.get("type")) else {
            return;
        };
        let (kind, field) = match kind.as_ref() {
            "text_delta" => (DeltaKind::Text, "text"),
            "input_json_delta" => (DeltaKind::Input, "partial_json"),
            "thinking_delta" => (DeltaKind::Thinking, "thinking"),
            "signature_delta" => {
                if let Some(sig) = as_str(delta.get("signature")) {
                    if self.slots[&index].kind == SlotKind::Thinking && !sig.is_empty() {
                        self.asm.thinking_signature(&sig, false);
                    }
                }
                return;
            }
            _ => return, // citations_delta, compaction_delta and unknown deltas
        };
        let raw = delta.get(field);
        let Some(value) = as_str(raw) else { return };
        self.apply(index, kind, &value, out);
        // Only a plain layout (type and the string, each once; a usual event around it)
        // is remembered: then equal bytes around a new string mean the same structure.
        if delta.len() == 2 && ev.len() == 3 {
            self.remember(raw.unwrap(), data, index, kind);
        }
    }

    /// The effect of one delta string on block `index` (the slow path).
    fn apply(&mut self, index: u64, kind: DeltaKind, value: &str, out: &mut Vec<Ev>) {
        let Some(slot) = self.slots.get_mut(&index) else {
            return;
        };
        if kind == DeltaKind::Input && slot.kind == SlotKind::Tool {
            slot.has_delta = true;
        }
        let slot_kind = slot.kind;
        self.apply_to(index, kind, slot_kind, value, out);
    }

    /// The effect of one delta string on a block of a known kind (both paths share it;
    /// a tool block's `has_delta` is already set when its layout was remembered).
    fn apply_to(
        &mut self,
        index: u64,
        kind: DeltaKind,
        slot: SlotKind,
        value: &str,
        out: &mut Vec<Ev>,
    ) {
        match (kind, slot) {
            (DeltaKind::Text, SlotKind::Text) if !value.is_empty() => self.asm.text(value, out),
            (DeltaKind::Input, SlotKind::Tool) if !value.is_empty() => {
                self.asm
                    .tool_call(BlockKey::int(index), None, None, Some(value), out);
            }
            (DeltaKind::Thinking, SlotKind::Thinking) if !value.is_empty() => {
                self.asm.thinking(value, out, false)
            }
            _ => {}
        }
    }

    /// Remember the layout of a delta whose only varying part is its string (see
    /// [`Template`]), when that string was parsed straight from `data`.
    fn remember(&mut self, raw: &RawValue, data: &[u8], index: u64, kind: DeltaKind) {
        let Some(slot) = self.slots.get(&index).map(|s| s.kind) else {
            return;
        };
        let Some(layout) = Layout::around(raw, data) else {
            return;
        };
        let known = self
            .template
            .as_ref()
            .is_some_and(|t| t.index == index && t.kind == kind && t.layout == layout);
        if !known {
            self.template = Some(Template {
                layout,
                index,
                kind,
                slot,
            });
        }
    }

    fn block_stop(&mut self, ev: &Fields, data: &[u8], out: &mut Vec<Ev>) {
        let index = as_index(ev.get("index"));
        let Some((index, slot)) = index.and_then(|i| self.slots.get(&i).map(|s| (i, s))) else {
            self.asm.fail(Fail::Protocol(data.to_vec()), out);
            return;
        };
        match slot.kind {
            SlotKind::Tool => {
                let key = BlockKey::int(index);
                if !slot.has_delta {
                    if let Some(input) = slot.start_input.clone() {
                        if !self
                            .asm
                            .tool_call(key.clone(), None, None, Some(&input), out)
                        {
                            return;
                        }
                    }
                }
                self.asm.end_tool_call(&key, out);
            }
            SlotKind::Other => {}
            _ => self.asm.end_current(out),
        }
    }
}

impl WireFormat for AnthropicCore {
    fn assembler(&self) -> &Assembler {
        &self.asm
    }

    fn assembler_mut(&mut self) -> &mut Assembler {
        &mut self.asm
    }

    fn payload(&mut self, data: &[u8], out: &mut Vec<Ev>) {
        if let Some(t) = &self.template {
            if let Some(value) = t.layout.string_in(data) {
                let (index, kind, slot) = (t.index, t.kind, t.slot);
                self.apply_to(index, kind, slot, &value, out);
                return;
            }
        }
        if !with_object(data, |ev| self.event(ev, data, out)) {
            self.asm.fail(Fail::BadJson(data.to_vec()), out);
        }
    }

    fn end_of_stream(&mut self, out: &mut Vec<Ev>) {
        self.asm.fail(Fail::NoFinish, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assembler::Thinking;
    use crate::parser::StreamParser;

    fn run(body: &str) -> Vec<Ev> {
        let mut p = StreamParser::new(1 << 20, AnthropicCore::new(1 << 20, false));
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
        let thinking = Thinking {
            text: "hmm".into(),
            signature: Some("SIG".into()),
            redacted: false,
        };
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
        assert!(matches!(
            run(start).last(),
            Some(Ev::Fail(Fail::NoFinish, _))
        ));
        let err = format!(
            "{start}data: {{\"type\":\"error\",\"error\":{{\"type\":\"overloaded_error\"}}}}\n\n"
        );
        assert!(matches!(
            run(&err).last(),
            Some(Ev::Fail(Fail::StreamError(_), _))
        ));
        let splice = format!(
            "{start}{start}data: {{\"type\":\"message_start\",\"message\":{{\"id\":\"b\"}}}}\n\n"
        );
        assert!(matches!(
            run(&splice).last(),
            Some(Ev::Fail(Fail::Protocol(_), _))
        ));
    }
}
