//! The proxy protocol (the seed's `stream_proxy`, pi's `proxy.ts`): SSE payloads in,
//! `Ev` items out.
//!
//! The twin of `tinyagent/providers/proxy/_parser.py`, rule for rule: blocks announced
//! by `*_start` with a `contentIndex`; a text or thinking delta or end for any block
//! but the open one of its kind, a block started twice or inside another, or a tool
//! delta or end for a call not open, is a broken stream; `done` ends the reply (its
//! `reason` is the stop word), `error` fails it (with its usage); unknown event types
//! are skipped; a body without `done` or `error` is truncated.

use std::collections::{HashMap, HashSet};

use serde_json::value::RawValue;

use crate::assembler::{Assembler, Ev, Fail, Key};
use crate::json::{as_index, as_int, as_obj, as_str, with_object, Fields};
use crate::parser::WireFormat;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Thinking,
    Tool,
}

pub struct ProxyCore {
    asm: Assembler,
    kinds: HashMap<u64, Kind>,
    open: Option<u64>,
    tools_open: HashSet<u64>,
}

/// The usage counts' keys, in `Meta.usage` order (either dialect's spelling).
const USAGE_KEYS: [&[&str]; 5] = [
    &["input"],
    &["output"],
    &["cache_read", "cacheRead"],
    &["cache_write", "cacheWrite"],
    &["reasoning"],
];

fn count(raw: Option<&RawValue>) -> i64 {
    as_int(raw).filter(|n| *n >= 0).unwrap_or(0)
}

impl ProxyCore {
    pub fn new(max_args: usize, think_tags: bool) -> Self {
        ProxyCore {
            asm: Assembler::new(max_args, think_tags),
            kinds: HashMap::new(),
            open: None,
            tools_open: HashSet::new(),
        }
    }

    fn event(&mut self, ev: Fields, data: &[u8], out: &mut Vec<Ev>) {
        let Some(kind) = as_str(ev.get("type")) else {
            return;
        };
        let index = as_index(ev.get("contentIndex"));
        let broken = |asm: &mut Assembler, out: &mut Vec<Ev>| {
            asm.fail(Fail::Protocol(data.to_vec()), out);
        };
        match kind.as_ref() {
            "text_delta" | "thinking_delta" => {
                let want = if kind == "text_delta" {
                    Kind::Text
                } else {
                    Kind::Thinking
                };
                let ok = self.open.is_some()
                    && self.open == index
                    && self.kinds.get(&index.unwrap()) == Some(&want);
                if !ok {
                    return broken(&mut self.asm, out);
                }
                if let Some(delta) = as_str(ev.get("delta")) {
                    if !delta.is_empty() {
                        if want == Kind::Text {
                            self.asm.text(&delta, out);
                        } else {
                            self.asm.thinking(&delta, out, false);
                        }
                    }
                }
            }
            "toolcall_delta" => {
                let Some(i) = index.filter(|i| self.tools_open.contains(i)) else {
                    return broken(&mut self.asm, out);
                };
                if let Some(delta) = as_str(ev.get("delta")) {
                    if !delta.is_empty() {
                        self.asm
                            .tool_call(Key::int(i), None, None, Some(&delta), out);
                    }
                }
            }
            "text_start" | "thinking_start" | "toolcall_start" => {
                let Some(i) = index.filter(|i| !self.kinds.contains_key(i) && self.open.is_none())
                else {
                    return broken(&mut self.asm, out);
                };
                match kind.as_ref() {
                    "toolcall_start" => {
                        self.kinds.insert(i, Kind::Tool);
                        self.tools_open.insert(i);
                        let id = as_str(ev.get("id")).unwrap_or_default();
                        let name = as_str(ev.get("toolName")).unwrap_or_default();
                        self.asm
                            .tool_call(Key::int(i), Some(&id), Some(&name), None, out);
                    }
                    "text_start" => {
                        self.kinds.insert(i, Kind::Text);
                        self.asm.start_text(out);
                        self.open = Some(i);
                    }
                    _ => {
                        self.kinds.insert(i, Kind::Thinking);
                        self.asm.thinking("", out, true);
                        self.open = Some(i);
                    }
                }
            }
            "text_end" | "thinking_end" => {
                let want = if kind == "text_end" {
                    Kind::Text
                } else {
                    Kind::Thinking
                };
                let ok = index.is_some()
                    && index == self.open
                    && self.kinds.get(&index.unwrap()) == Some(&want);
                if !ok {
                    return broken(&mut self.asm, out);
                }
                if want == Kind::Thinking {
                    if let Some(sig) = as_str(ev.get("contentSignature")) {
                        if !sig.is_empty() {
                            let redacted = ev.get("redacted").is_some_and(|r| r.get() == "true");
                            self.asm.thinking_signature(&sig, redacted);
                        }
                    }
                }
                self.asm.end_current(out);
                self.open = None;
            }
            "toolcall_end" => {
                let Some(i) = index.filter(|i| self.tools_open.contains(i)) else {
                    return broken(&mut self.asm, out);
                };
                self.tools_open.remove(&i);
                self.asm.end_tool_call(&Key::int(i), out);
            }
            "done" => {
                self.meta(&ev);
                self.asm.finish(out);
            }
            "error" => {
                self.meta(&ev);
                self.asm.fail(Fail::StreamError(data.to_vec()), out);
            }
            _ => {} // start, and event types this version does not know
        }
    }

    /// The end event's stop word, response id and usage.
    fn meta(&mut self, ev: &Fields) {
        let meta = &mut self.asm.meta;
        meta.provider_stop_reason = as_str(ev.get("reason")).map(|r| r.into_owned());
        meta.response_id = as_str(ev.get("responseId")).map(|r| r.into_owned());
        if let Some(usage) = as_obj(ev.get("usage")) {
            let mut counts = [0i64; 5];
            for (slot, keys) in counts.iter_mut().zip(USAGE_KEYS) {
                if let Some(raw) = keys.iter().find_map(|k| usage.get(k)) {
                    *slot = count(Some(raw));
                }
            }
            meta.usage = Some(counts);
        }
    }
}

impl WireFormat for ProxyCore {
    fn assembler(&self) -> &Assembler {
        &self.asm
    }

    fn assembler_mut(&mut self) -> &mut Assembler {
        &mut self.asm
    }

    fn payload(&mut self, data: &[u8], out: &mut Vec<Ev>) {
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
    use crate::parser::StreamParser;

    fn run(body: &str) -> Vec<Ev> {
        let mut p = StreamParser::new(1 << 20, ProxyCore::new(1 << 20, false));
        let mut out = Vec::new();
        p.feed(body.as_bytes(), &mut out);
        p.end_of_stream(&mut out);
        out
    }

    #[test]
    fn text_tool_and_usage() {
        let body = concat!(
            "data: {\"type\":\"start\"}\n\n",
            "data: {\"type\":\"text_start\",\"contentIndex\":0}\n\n",
            "data: {\"type\":\"text_delta\",\"contentIndex\":0,\"delta\":\"hi\"}\n\n",
            "data: {\"type\":\"text_end\",\"contentIndex\":0}\n\n",
            "data: {\"type\":\"toolcall_start\",\"contentIndex\":1,\"id\":\"c1\",\"toolName\":\"f\"}\n\n",
            "data: {\"type\":\"toolcall_delta\",\"contentIndex\":1,\"delta\":\"{}\"}\n\n",
            "data: {\"type\":\"toolcall_end\",\"contentIndex\":1}\n\n",
            "data: {\"type\":\"done\",\"reason\":\"toolUse\",\"usage\":{\"input\":3,\"output\":2,\"cacheRead\":1}}\n\n",
        );
        let out = run(body);
        assert!(out.contains(&Ev::TextEnd(0, "hi".into())));
        assert!(out.contains(&Ev::ToolEnd(1, "c1".into(), "f".into(), "{}".into())));
        match out.last() {
            Some(Ev::Finish(meta)) => {
                assert_eq!(meta.usage, Some([3, 2, 1, 0, 0]));
                assert_eq!(meta.provider_stop_reason.as_deref(), Some("toolUse"));
            }
            other => panic!("expected a finish, got {other:?}"),
        }
    }

    #[test]
    fn misplaced_delta_error_and_truncation() {
        let stray = "data: {\"type\":\"text_delta\",\"contentIndex\":0,\"delta\":\"x\"}\n\n";
        assert!(matches!(
            run(stray).last(),
            Some(Ev::Fail(Fail::Protocol(_), _))
        ));
        let err = "data: {\"type\":\"error\",\"reason\":\"error\",\"errorMessage\":\"boom\"}\n\n";
        assert!(matches!(
            run(err).last(),
            Some(Ev::Fail(Fail::StreamError(_), _))
        ));
        let cut = "data: {\"type\":\"text_start\",\"contentIndex\":0}\n\n";
        assert!(matches!(run(cut).last(), Some(Ev::Fail(Fail::NoFinish, _))));
    }
}
