//! The Bedrock ConverseStream format: the payloads the event-stream framing hands on
//! (`{"<event type>": <member>}`) in, `Ev` items out.
//!
//! The twin of `tinyagent/providers/bedrock/_parser.py`, rule for rule: blocks keyed by
//! `contentBlockIndex`, text and reasoning blocks started by their first delta, tool
//! blocks by a `toolUse` start (a `server_tool_use` start and other starts are the
//! server's), tool input joined and parsed once at the end, reasoning signatures and
//! redacted content kept, an exception ending the reply, usage from `metadata`, and a
//! body without `messageStop` reported.

use std::collections::HashMap;

use crate::assembler::{Assembler, Ev, Fail, Key};
use crate::json::{
    as_index, as_int, as_obj, as_str, first_byte, span, with_object, Fields, MaskedLayout,
    Slot as Mask,
};
use crate::parser::WireFormat;

#[derive(Clone, Copy, PartialEq)]
enum Slot {
    Text,
    Thinking,
    Tool,
    Other,
}

pub struct BedrockCore {
    asm: Assembler,
    slots: HashMap<u64, Slot>,
    stopped: bool,
    template: Option<Template>,
}

/// The layout of a delta seen before (one string into a block of a known kind), with
/// its string and the `p` padding masked: a frame with the very same other bytes is the
/// same delta to the same block, so only its string is decoded.
struct Template {
    layout: MaskedLayout,
    index: u64,
    slot: Slot,
}

fn count(raw: Option<&serde_json::value::RawValue>) -> i64 {
    as_int(raw).filter(|n| *n >= 0).unwrap_or(0)
}

impl BedrockCore {
    pub fn new(max_args: usize, think_tags: bool) -> Self {
        BedrockCore {
            asm: Assembler::new(max_args, think_tags),
            slots: HashMap::new(),
            stopped: false,
            template: None,
        }
    }

    /// The fast path: a delta with a remembered layout (true if it was one).
    fn templated(&mut self, data: &[u8], out: &mut Vec<Ev>) -> bool {
        let Some(t) = &self.template else {
            return false;
        };
        let Some(value) = t.layout.target_in(data) else {
            return false;
        };
        let (index, slot) = (t.index, t.slot);
        if !value.is_empty() {
            match slot {
                Slot::Text => self.asm.text(&value, out),
                Slot::Thinking => self.asm.thinking(&value, out, false),
                _ => {
                    self.asm
                        .tool_call(Key::int(index), None, None, Some(&value), out);
                }
            }
        }
        true
    }

    /// Remember the layout of a plain delta read straight from `data` (see [`Template`]).
    fn remember(&mut self, member: &Fields, data: &[u8]) {
        let mut seen: Vec<&str> = Vec::new();
        for (key, _) in member.entries() {
            if seen.contains(&key) {
                return; // a key given twice: only the slow path reads it right
            }
            seen.push(key);
        }
        let Some(index) = as_index(member.get("contentBlockIndex")) else {
            return;
        };
        let Some(delta) = as_obj(member.get("delta")).filter(|d| d.len() == 1) else {
            return;
        };
        let (want, raw) = if let Some(raw) = delta.get("text") {
            (Slot::Text, Some(raw))
        } else if let Some(tool) = as_obj(delta.get("toolUse")).filter(|t| t.len() == 1) {
            (Slot::Tool, tool.get("input"))
        } else if let Some(r) = as_obj(delta.get("reasoningContent")).filter(|r| r.len() == 1) {
            (Slot::Thinking, r.get("text"))
        } else {
            return;
        };
        let Some(raw) = raw.filter(|r| first_byte(r) == b'"') else {
            return;
        };
        if self.slots.get(&index) != Some(&want) {
            return;
        }
        let Some((a, b)) = span(raw, data) else {
            return;
        };
        let mut spans = vec![(a, b, Mask::Target)];
        if let Some(pad) = member.get("p").filter(|p| first_byte(p) == b'"') {
            let Some((a, b)) = span(pad, data) else {
                return;
            };
            spans.push((a, b, Mask::Ignored));
        }
        if let Some(layout) = MaskedLayout::new(data, spans) {
            self.template = Some(Template {
                layout,
                index,
                slot: want,
            });
        }
    }

    fn event(&mut self, event: Fields, data: &[u8], out: &mut Vec<Ev>) {
        let Some((kind, raw)) = event.single() else {
            return; // not one event: nothing this version can place
        };
        if kind == "error" || kind.ends_with("Exception") {
            self.asm.fail(Fail::StreamError(data.to_vec()), out);
            return;
        }
        let Some(member) = as_obj(Some(raw)) else {
            return;
        };
        match kind {
            "contentBlockDelta" => {
                self.delta(&member, data, out);
                if !self.asm.finished {
                    self.remember(&member, data);
                }
            }
            "contentBlockStart" => self.start(&member, data, out),
            "contentBlockStop" => self.stop(&member, out),
            "messageStop" => {
                if let Some(reason) = as_str(member.get("stopReason")) {
                    if !reason.is_empty() {
                        self.asm.meta.provider_stop_reason = Some(reason.into_owned());
                    }
                }
                self.stopped = true;
            }
            "metadata" => {
                if let Some(u) = as_obj(member.get("usage")) {
                    self.asm.meta.usage = Some([
                        count(u.get("inputTokens")),
                        count(u.get("outputTokens")),
                        count(u.get("cacheReadInputTokens")),
                        count(u.get("cacheWriteInputTokens")),
                        0,
                    ]);
                }
            }
            _ => {} // messageStart and event types this version does not know
        }
    }

    fn start(&mut self, member: &Fields, data: &[u8], out: &mut Vec<Ev>) {
        let index = as_index(member.get("contentBlockIndex"));
        let Some(index) = index.filter(|i| !self.slots.contains_key(i)) else {
            // A block with no index, or one started twice: it cannot be placed.
            self.asm.fail(Fail::Protocol(data.to_vec()), out);
            return;
        };
        let tool = as_obj(member.get("start")).and_then(|s| as_obj(s.get("toolUse")));
        match tool {
            Some(tool) if as_str(tool.get("type")).as_deref() != Some("server_tool_use") => {
                self.slots.insert(index, Slot::Tool);
                let id = as_str(tool.get("toolUseId")).unwrap_or_default();
                let name = as_str(tool.get("name")).unwrap_or_default();
                self.asm
                    .tool_call(Key::int(index), Some(&id), Some(&name), None, out);
            }
            _ => {
                self.slots.insert(index, Slot::Other); // server tools, results, unknown
            }
        }
    }

    fn delta(&mut self, member: &Fields, data: &[u8], out: &mut Vec<Ev>) {
        let Some(index) = as_index(member.get("contentBlockIndex")) else {
            self.asm.fail(Fail::Protocol(data.to_vec()), out);
            return;
        };
        let Some(delta) = as_obj(member.get("delta")) else {
            return;
        };
        let slot = self.slots.get(&index).copied();
        if let Some(text) = as_str(delta.get("text")) {
            let slot = *self.slots.entry(index).or_insert(Slot::Text);
            if slot == Slot::Text && !text.is_empty() {
                self.asm.text(&text, out);
            }
            return;
        }
        if let Some(reasoning) = as_obj(delta.get("reasoningContent")) {
            let slot = match slot {
                Some(s) => s,
                None => {
                    self.slots.insert(index, Slot::Thinking);
                    self.asm.thinking("", out, true);
                    Slot::Thinking
                }
            };
            if slot != Slot::Thinking {
                return;
            }
            if let Some(piece) = as_str(reasoning.get("text")) {
                if !piece.is_empty() {
                    self.asm.thinking(&piece, out, false);
                }
            }
            if let Some(sig) = as_str(reasoning.get("signature")) {
                if !sig.is_empty() {
                    self.asm.thinking_signature(&sig, false);
                }
            }
            if let Some(redacted) = as_str(reasoning.get("redactedContent")) {
                if !redacted.is_empty() {
                    self.asm.thinking_signature(&redacted, true);
                }
            }
            return;
        }
        if let Some(tool) = as_obj(delta.get("toolUse")) {
            let Some(slot) = slot else {
                // tool input for a block never started: it has no place
                self.asm.fail(Fail::Protocol(data.to_vec()), out);
                return;
            };
            if let Some(piece) = as_str(tool.get("input")) {
                if slot == Slot::Tool && !piece.is_empty() {
                    self.asm
                        .tool_call(Key::int(index), None, None, Some(&piece), out);
                }
            }
        }
        // toolResult, citation and unknown deltas: skipped
    }

    fn stop(&mut self, member: &Fields, out: &mut Vec<Ev>) {
        let index = as_index(member.get("contentBlockIndex"));
        match index.and_then(|i| self.slots.get(&i).copied()) {
            Some(Slot::Tool) => self.asm.end_tool_call(&Key::int(index.unwrap()), out),
            Some(Slot::Text) | Some(Slot::Thinking) => self.asm.end_current(out),
            _ => {} // a stop for a block that had no deltas: nothing to end
        }
    }
}

impl WireFormat for BedrockCore {
    fn assembler(&self) -> &Assembler {
        &self.asm
    }

    fn assembler_mut(&mut self) -> &mut Assembler {
        &mut self.asm
    }

    fn payload(&mut self, data: &[u8], out: &mut Vec<Ev>) {
        if self.templated(data, out) {
            return;
        }
        if !with_object(data, |event| self.event(event, data, out)) {
            self.asm.fail(Fail::BadJson(data.to_vec()), out);
        }
    }

    fn end_of_stream(&mut self, out: &mut Vec<Ev>) {
        if self.stopped {
            self.asm.finish(out);
        } else {
            self.asm.fail(Fail::NoFinish, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assembler::Thinking;
    use crate::eventstream::encode_frame;
    use crate::parser::StreamParser;

    fn frame(kind: &str, payload: &str) -> Vec<u8> {
        encode_frame(
            &[
                (":event-type", kind),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            payload.as_bytes(),
        )
    }

    fn run(body: &[u8]) -> Vec<Ev> {
        let mut p = StreamParser::with_event_stream(1 << 20, BedrockCore::new(1 << 20, false));
        let mut out = Vec::new();
        for byte in body.chunks(1) {
            p.feed(byte, &mut out);
        }
        p.end_of_stream(&mut out);
        out
    }

    #[test]
    fn reasoning_text_tool_and_usage_fed_a_byte_at_a_time() {
        let body = [
            frame("messageStart", r#"{"role":"assistant","p":"abc"}"#),
            frame(
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"hmm"}}}"#,
            ),
            frame(
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"signature":"SIG"}}}"#,
            ),
            frame("contentBlockStop", r#"{"contentBlockIndex":0}"#),
            frame(
                "contentBlockDelta",
                r#"{"contentBlockIndex":1,"delta":{"text":"Hi"}}"#,
            ),
            frame("contentBlockStop", r#"{"contentBlockIndex":1}"#),
            frame(
                "contentBlockStart",
                r#"{"contentBlockIndex":2,"start":{"toolUse":{"toolUseId":"t1","name":"f"}}}"#,
            ),
            frame(
                "contentBlockDelta",
                r#"{"contentBlockIndex":2,"delta":{"toolUse":{"input":"{\"a\":1}"}}}"#,
            ),
            frame("contentBlockStop", r#"{"contentBlockIndex":2}"#),
            frame("messageStop", r#"{"stopReason":"tool_use"}"#),
            frame(
                "metadata",
                r#"{"usage":{"inputTokens":5,"outputTokens":7,"cacheReadInputTokens":2}}"#,
            ),
        ]
        .concat();
        let out = run(&body);
        let thinking = Thinking {
            text: "hmm".into(),
            signature: Some("SIG".into()),
            redacted: false,
        };
        assert!(out.contains(&Ev::ThinkingEnd(0, thinking)));
        assert!(out.contains(&Ev::TextEnd(1, "Hi".into())));
        assert!(out.contains(&Ev::ToolEnd(2, "t1".into(), "f".into(), "{\"a\":1}".into())));
        match out.last() {
            Some(Ev::Finish(meta)) => {
                assert_eq!(meta.usage, Some([5, 7, 2, 0, 0]));
                assert_eq!(meta.provider_stop_reason.as_deref(), Some("tool_use"));
            }
            other => panic!("expected a finish, got {other:?}"),
        }
    }

    #[test]
    fn exceptions_truncation_and_corruption() {
        let start = frame("messageStart", r#"{"role":"assistant"}"#);
        assert!(matches!(
            run(&start).last(),
            Some(Ev::Fail(Fail::NoFinish, _))
        ));
        let exception = encode_frame(
            &[
                (":exception-type", "throttlingException"),
                (":message-type", "exception"),
            ],
            br#"{"message":"slow down"}"#,
        );
        let body = [start.clone(), exception].concat();
        assert!(matches!(
            run(&body).last(),
            Some(Ev::Fail(Fail::StreamError(_), _))
        ));
        let mut corrupt = start.clone();
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0xFF;
        assert!(matches!(
            run(&corrupt).last(),
            Some(Ev::Fail(Fail::Frame(_), _))
        ));
        let cut = [start.clone(), start[..start.len() - 3].to_vec()].concat();
        assert!(matches!(
            run(&cut).last(),
            Some(Ev::Fail(Fail::TruncatedEvent, _))
        ));
        // Cut in its first frame: no event came at all, said with what did.
        let first = &start[..start.len() - 3];
        assert!(matches!(
            run(first).last(),
            Some(Ev::Fail(Fail::NoEvents(n, _), _)) if *n == first.len()
        ));
    }
}
