//! The OpenAI Responses wire format: SSE payloads in, `Ev` items out.
//!
//! The twin of `tinyagent/providers/_openai_responses_parser.py`, rule for rule: output
//! items keyed by `output_index`; text, argument and reasoning deltas; the final
//! argument text winning over the joined deltas; a reasoning item signed with
//! `{"item": …, "next": <the following item's id>}`; items the SDK does not model kept
//! whole as redacted thinking; an `error` event remembered until the response ends.
//!
//! Every event carries a changing `sequence_number` (and often an `obfuscation` pad),
//! so no two deltas share their bytes: the hot path remembers a delta's layout with
//! those two masked ([`MaskedLayout`]), and a borrowed struct that skips the fields it
//! does not need reads the rest.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

use crate::assembler::{Assembler, Ev, Fail, Key as BlockKey};
use crate::json::{
    as_index, as_obj, as_str, first_byte, is_object, parse, payload_text, span, too_deep, Fields,
    MaskedLayout, Slot,
};
use crate::parser::WireFormat;

/// The fields of a delta event, borrowed; unknown fields skipped. A duplicated key
/// makes serde refuse it, and the event then takes the general path (last key wins).
#[derive(Deserialize)]
struct FastEvent<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    output_index: Option<&'a RawValue>,
    #[serde(borrow, default)]
    delta: Option<&'a RawValue>,
    #[serde(borrow, default)]
    sequence_number: Option<&'a RawValue>,
    #[serde(borrow, default)]
    obfuscation: Option<&'a RawValue>,
}

/// A remembered delta layout and what its string does.
struct Template {
    layout: MaskedLayout,
    want: Item,
    index: u64,
}

fn delta_kind(kind: &str) -> Option<Item> {
    match kind {
        "response.output_text.delta" | "response.refusal.delta" => Some(Item::Message),
        "response.function_call_arguments.delta" => Some(Item::Call),
        "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
            Some(Item::Reasoning)
        }
        _ => None,
    }
}

fn count(raw: Option<&RawValue>) -> i64 {
    as_index(raw)
        .and_then(|n| i64::try_from(n).ok())
        .unwrap_or(0)
}

#[derive(Clone, Copy, PartialEq)]
enum Item {
    Message,
    Call,
    Reasoning,
    Other,
}

fn item_kind(kind: &str) -> Item {
    match kind {
        "message" => Item::Message,
        "function_call" => Item::Call,
        "reasoning" => Item::Reasoning,
        _ => Item::Other,
    }
}

/// The signature of a reasoning (or unmodelled) item, as the Python parser writes it.
fn signature(item: Value, next: Option<String>) -> String {
    let mut m = serde_json::Map::new();
    m.insert("item".into(), item);
    m.insert("next".into(), next.map_or(Value::Null, Value::String));
    Value::Object(m).to_string()
}

pub struct ResponsesCore {
    asm: Assembler,
    kinds: HashMap<u64, Item>,
    template: Option<Template>,
    /// A done reasoning item, waiting for the id of the item that follows it.
    reasoning: Option<Value>,
    /// The payload of the first `error` event, reported when the response ends.
    error: Option<Vec<u8>>,
}

impl ResponsesCore {
    pub fn new(max_args: usize, think_tags: bool) -> Self {
        ResponsesCore {
            asm: Assembler::new(max_args, think_tags),
            kinds: HashMap::new(),
            template: None,
            reasoning: None,
            error: None,
        }
    }

    fn kind_at(&self, raw: Option<&RawValue>) -> Option<Item> {
        as_index(raw).and_then(|i| self.kinds.get(&i).copied())
    }

    /// A delta event: true if `kind` was one (handled), false to take the general path.
    fn delta(
        &mut self,
        kind: &str,
        index: Option<&RawValue>,
        delta: Option<&RawValue>,
        out: &mut Vec<Ev>,
    ) -> bool {
        let Some(want) = delta_kind(kind) else {
            return false;
        };
        let Some(text) = as_str(delta) else {
            return true;
        };
        if self.kind_at(index) == Some(want) {
            self.apply(want, as_index(index).unwrap_or_default(), &text, out);
        }
        true
    }

    /// A delta string's effect on the item it belongs to (both paths share it).
    fn apply(&mut self, want: Item, index: u64, text: &str, out: &mut Vec<Ev>) {
        if text.is_empty() {
            return;
        }
        match want {
            Item::Message => self.asm.text(text, out),
            Item::Reasoning => self.asm.thinking(text, out, false),
            _ => {
                self.asm
                    .tool_call(BlockKey::int(index), None, None, Some(text), out);
            }
        }
    }

    /// Remember the layout of a delta event that was read straight from `data`, with
    /// its sequence number and obfuscation pad masked (see [`Template`]).
    fn remember(&mut self, fast: &FastEvent, data: &[u8]) {
        let (Some(want), Some(index), Some(delta)) = (
            delta_kind(&fast.kind),
            as_index(fast.output_index),
            fast.delta,
        ) else {
            return;
        };
        if self.kinds.get(&index) != Some(&want) || first_byte(delta) != b'"' {
            return;
        }
        let Some((a, b)) = span(delta, data) else {
            return;
        };
        let mut spans = vec![(a, b, Slot::Target)];
        for (raw, slot) in [
            (fast.sequence_number, Slot::Digits),
            (fast.obfuscation, Slot::Ignored),
        ] {
            if let Some(raw) = raw {
                let Some((a, b)) = span(raw, data) else {
                    return;
                };
                spans.push((a, b, slot));
            }
        }
        if let Some(layout) = MaskedLayout::new(data, spans) {
            self.template = Some(Template {
                layout,
                want,
                index,
            });
        }
    }

    fn event(&mut self, ev: Fields, data: &[u8], out: &mut Vec<Ev>) {
        let Some(kind) = as_str(ev.get("type")) else {
            return;
        };
        if self.delta(&kind, ev.get("output_index"), ev.get("delta"), out) {
            return;
        }
        match kind.as_ref() {
            "response.function_call_arguments.done" => {
                let index = ev.get("output_index");
                if let (Some(i), Some(args)) = (as_index(index), as_str(ev.get("arguments"))) {
                    if self.kind_at(index) == Some(Item::Call) {
                        self.asm.set_tool_arguments(&BlockKey::int(i), &args, out);
                    }
                }
            }
            "response.output_item.added" => {
                if let (Some(i), Some(item)) =
                    (as_index(ev.get("output_index")), as_obj(ev.get("item")))
                {
                    self.item_added(i, &item, out);
                }
            }
            "response.output_item.done" => {
                let raw = ev.get("item");
                if let (Some(i), Some(item)) = (as_index(ev.get("output_index")), as_obj(raw)) {
                    self.item_done(i, &item, raw.unwrap(), out);
                }
            }
            "response.created" | "response.in_progress" | "response.queued" => {
                if let Some(r) = as_obj(ev.get("response")) {
                    self.head(&r);
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.end(&ev, data, out)
            }
            "error" if self.error.is_none() => self.error = Some(data.to_vec()),
            _ => {} // item progress, annotations, part boundaries
        }
    }

    fn head(&mut self, response: &Fields) {
        if let Some(id) = as_str(response.get("id")) {
            if !id.is_empty() && self.asm.meta.response_id.is_none() {
                self.asm.meta.response_id = Some(id.into_owned());
            }
        }
    }

    fn settle_reasoning(&mut self, next: Option<String>) {
        if let Some(item) = self.reasoning.take() {
            let sig = signature(item, next);
            self.asm.thinking_signature(&sig, false);
        }
    }

    fn item_added(&mut self, index: u64, item: &Fields, out: &mut Vec<Ev>) {
        if self.kinds.contains_key(&index) {
            return;
        }
        let kind = as_str(item.get("type")).unwrap_or_default();
        self.settle_reasoning(as_str(item.get("id")).map(Cow::into_owned));
        let k = item_kind(&kind);
        self.kinds.insert(index, k);
        match k {
            Item::Message => self.asm.end_current(out),
            Item::Reasoning => self.asm.thinking("", out, true),
            Item::Call => {
                let id = as_str(item.get("call_id")).unwrap_or_default();
                let name = as_str(item.get("name")).unwrap_or_default();
                self.asm
                    .tool_call(BlockKey::int(index), Some(&id), Some(&name), None, out);
            }
            Item::Other => {}
        }
    }

    fn item_done(&mut self, index: u64, item: &Fields, raw: &RawValue, out: &mut Vec<Ev>) {
        let kind = match self.kinds.get(&index) {
            Some(&k) => k,
            None => {
                self.item_added(index, item, out); // done without added: take it as both
                match self.kinds.get(&index) {
                    Some(&k) => k,
                    None => return,
                }
            }
        };
        match kind {
            Item::Call => {
                let key = BlockKey::int(index);
                if let Some(args) = as_str(item.get("arguments")) {
                    if !self.asm.set_tool_arguments(&key, &args, out) {
                        return;
                    }
                }
                self.asm.end_tool_call(&key, out);
            }
            Item::Reasoning => self.reasoning = parse::<Value>(raw.get()).ok(),
            Item::Other => {
                self.settle_reasoning(as_str(item.get("id")).map(Cow::into_owned));
                let value = parse::<Value>(raw.get()).unwrap_or(Value::Null);
                self.asm.thinking("", out, true);
                self.asm.thinking_signature(&signature(value, None), true);
                self.asm.end_current(out);
            }
            Item::Message => {}
        }
    }

    fn end(&mut self, ev: &Fields, data: &[u8], out: &mut Vec<Ev>) {
        self.settle_reasoning(None);
        let response = as_obj(ev.get("response"));
        if let Some(r) = &response {
            self.head(r);
            self.take_usage(r.get("usage"));
        }
        let status = response.as_ref().and_then(|r| as_str(r.get("status")));
        let reason = response
            .as_ref()
            .and_then(|r| as_obj(r.get("incomplete_details")))
            .and_then(|d| as_str(d.get("reason")).map(Cow::into_owned));
        self.asm.meta.provider_stop_reason = match (status.as_deref(), reason) {
            (Some("incomplete"), Some(r)) if !r.is_empty() => Some(r),
            (s, _) => s.map(str::to_owned),
        };
        if status.as_deref() == Some("failed") || self.error.is_some() {
            let payload = self.error.take().unwrap_or_else(|| data.to_vec());
            self.asm.fail(Fail::StreamError(payload), out);
            return;
        }
        self.asm.finish(out);
    }

    fn take_usage(&mut self, raw: Option<&RawValue>) {
        let Some(u) = as_obj(raw) else { return };
        let total = count(u.get("input_tokens"));
        let cached =
            as_obj(u.get("input_tokens_details")).map_or(0, |d| count(d.get("cached_tokens")));
        let reasoning =
            as_obj(u.get("output_tokens_details")).map_or(0, |d| count(d.get("reasoning_tokens")));
        self.asm.meta.usage = Some([
            (total - cached).max(0),
            count(u.get("output_tokens")),
            cached,
            0,
            reasoning,
        ]);
    }
}

impl WireFormat for ResponsesCore {
    fn assembler(&self) -> &Assembler {
        &self.asm
    }

    fn assembler_mut(&mut self) -> &mut Assembler {
        &mut self.asm
    }

    fn payload(&mut self, data: &[u8], out: &mut Vec<Ev>) {
        if let Some(t) = &self.template {
            if let Some(value) = t.layout.target_in(data) {
                let (want, index) = (t.want, t.index);
                self.apply(want, index, &value, out);
                return;
            }
        }
        if too_deep(data) {
            self.asm.fail(Fail::BadJson(data.to_vec()), out);
            return;
        }
        let text = payload_text(data);
        let text: &str = &text;
        if !is_object(text) {
            self.asm.fail(Fail::BadJson(data.to_vec()), out);
            return;
        }
        if let Ok(fast) = parse::<FastEvent>(text) {
            if self.delta(&fast.kind, fast.output_index, fast.delta, out) {
                if !self.asm.finished {
                    self.remember(&fast, data);
                }
                return;
            }
        }
        match parse::<Fields>(text) {
            Ok(ev) => self.event(ev, data, out),
            Err(_) => self.asm.fail(Fail::BadJson(data.to_vec()), out),
        }
    }

    fn end_of_stream(&mut self, out: &mut Vec<Ev>) {
        match self.error.take() {
            Some(payload) => self.asm.fail(Fail::StreamError(payload), out),
            None => self.asm.fail(Fail::NoFinish, out),
        }
    }
}
