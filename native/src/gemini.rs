//! The Gemini `streamGenerateContent?alt=sse` wire format: SSE payloads in, `Ev` items out.
//!
//! The twin of `tinyagent/providers/google_gemini/_parser.py`, rule for rule: each
//! payload a whole `GenerateContentResponse`; `candidates[0].content.parts` are new
//! parts (text, `thought` parts as thinking, `functionCall` parts as whole calls, other
//! parts skipped); a `thoughtSignature` on a thought part signs that block, on any other
//! part it becomes a signature-only redacted thinking block just before the part;
//! `usageMetadata` running totals (the last wins); no end marker: a `finishReason`
//! ends the reply when the body ends, and a body without one is truncated.

use serde_json::value::RawValue;
use serde_json::Value;

use crate::assembler::{Assembler, Ev, Fail, Key};
use crate::json::{
    as_int, as_obj, as_str, cut_to_argument_depth, first_byte, parse, span, with_object, Fields,
    MaskedLayout, Slot,
};
use crate::parser::WireFormat;

pub struct GeminiCore {
    asm: Assembler,
    calls: u64,
    finish_seen: bool,
    template: Option<Template>,
    counts: Vec<i64>,
}

/// Which running total a `Count` slot of a template holds.
#[derive(Clone, Copy)]
enum Total {
    Prompt,
    Cached,
    Candidates,
    Thoughts,
}

/// The layout of a plain text chunk seen before (one candidate, one part that is only
/// `text`, no finish reason), with the text and the usage integers masked: a chunk with
/// the very same other bytes has the same structure, so its text is appended and its
/// usage taken without parsing it (each Gemini chunk restates running totals, so no two
/// are alike byte for byte).
struct Template {
    layout: MaskedLayout,
    /// The totals its `Count` slots hold, in slot order; None when the usage has no
    /// prompt count (then the chunk's usage is not taken, as on the slow path).
    totals: Option<Vec<Total>>,
    /// The part is a thought (`"thought": true` beside its text).
    thought: bool,
}

/// A JSON `null` (Python's `None`), as opposed to a field that is absent.
fn is_null(raw: Option<&RawValue>) -> bool {
    raw.is_some_and(|r| r.get() == "null")
}

/// A JSON array's items, or None for any other JSON type.
fn as_list(raw: Option<&RawValue>) -> Option<Vec<&RawValue>> {
    let raw = raw?;
    if first_byte(raw) != b'[' {
        return None;
    }
    parse(raw.get()).ok()
}

/// A token count: a JSON integer from 0 to 2**63 - 1; anything else counts 0.
fn count(raw: Option<&RawValue>) -> i64 {
    as_int(raw).filter(|n| *n >= 0).unwrap_or(0)
}

impl GeminiCore {
    pub fn new(max_args: usize, think_tags: bool) -> Self {
        GeminiCore {
            asm: Assembler::new(max_args, think_tags),
            calls: 0,
            finish_seen: false,
            template: None,
            counts: Vec::new(),
        }
    }

    /// The fast path: a chunk with a remembered layout (true if it was one).
    fn templated(&mut self, data: &[u8], out: &mut Vec<Ev>) -> bool {
        let Some(t) = &self.template else {
            return false;
        };
        let Some(text) = t.layout.read(data, &mut self.counts) else {
            return false;
        };
        if let Some(totals) = &t.totals {
            let mut u = [0i64; 4];
            for (total, value) in totals.iter().zip(&self.counts) {
                u[*total as usize] = *value;
            }
            let [prompt, cached, candidates, thoughts] = u;
            let output = candidates.saturating_add(thoughts);
            self.asm.meta.usage = Some([(prompt - cached).max(0), output, cached, 0, thoughts]);
        }
        if t.thought {
            self.asm.thinking(&text, out, false);
        } else if !text.is_empty() {
            self.asm.text(&text, out);
        }
        true
    }

    /// Remember `chunk`'s layout if it is a plain text chunk read straight from `data`.
    fn remember(&mut self, chunk: &Fields, data: &[u8]) {
        let candidates = as_list(chunk.get("candidates")).filter(|c| c.len() == 1);
        let Some(candidate) = candidates.and_then(|c| as_obj(Some(c[0]))) else {
            return;
        };
        if candidate.get("finishReason").is_some() {
            return;
        }
        let parts = as_obj(candidate.get("content")).and_then(|c| as_list(c.get("parts")));
        let Some(part) = parts
            .filter(|p| p.len() == 1)
            .and_then(|p| as_obj(Some(p[0])))
        else {
            return;
        };
        let text = part.get("text");
        let thought = part.get("thought").is_some_and(|t| t.get() == "true");
        if part.len() != 1 + thought as usize || text.is_none_or(|t| first_byte(t) != b'"') {
            return;
        }
        let Some((a, b)) = span(text.unwrap(), data) else {
            return;
        };
        let mut spans = vec![(a, b, Slot::Target)];
        let mut totals = None;
        if let Some(usage) = as_obj(chunk.get("usageMetadata")) {
            let mut read = Vec::new();
            for (key, raw) in usage.entries() {
                let total = match key {
                    "promptTokenCount" => Some(Total::Prompt),
                    "cachedContentTokenCount" => Some(Total::Cached),
                    "candidatesTokenCount" => Some(Total::Candidates),
                    "thoughtsTokenCount" => Some(Total::Thoughts),
                    _ => None,
                };
                let digits = raw.get().bytes().all(|b| b.is_ascii_digit()) && raw.get().len() <= 18;
                if !digits {
                    if total.is_some() {
                        return; // a count that is not a plain integer: the slow path says
                    }
                    continue;
                }
                let Some((a, b)) = span(raw, data) else {
                    return;
                };
                if usage.get(key).map(|r| r.get().as_ptr()) != Some(raw.get().as_ptr()) {
                    return; // a key given twice: only the slow path reads it right
                }
                spans.push((
                    a,
                    b,
                    if total.is_some() {
                        Slot::Count
                    } else {
                        Slot::Digits
                    },
                ));
                if let Some(total) = total {
                    read.push((a, total));
                }
            }
            if usage.get("promptTokenCount").is_some() {
                read.sort_by_key(|(at, _)| *at);
                totals = Some(read.into_iter().map(|(_, t)| t).collect());
            }
        }
        if let Some(layout) = MaskedLayout::new(data, spans) {
            self.template = Some(Template {
                layout,
                totals,
                thought,
            });
        }
    }

    fn chunk(&mut self, chunk: &Fields, data: &[u8], out: &mut Vec<Ev>) {
        let error = chunk.get("error");
        if error.is_some() && !is_null(error) {
            self.asm.fail(Fail::StreamError(data.to_vec()), out);
            return;
        }
        if self.asm.meta.response_id.is_none() {
            self.asm.meta.response_id =
                as_str(chunk.get("responseId")).map(std::borrow::Cow::into_owned);
        }
        let first = as_list(chunk.get("candidates"))
            .and_then(|c| c.first().copied())
            .and_then(|c| as_obj(Some(c)));
        if let Some(candidate) = first {
            let parts = as_obj(candidate.get("content")).and_then(|c| as_list(c.get("parts")));
            for part in parts.unwrap_or_default() {
                if let Some(part) = as_obj(Some(part)) {
                    if !self.part(&part, data, out) {
                        return;
                    }
                }
            }
            if let Some(reason) = as_str(candidate.get("finishReason")) {
                if !reason.is_empty() {
                    self.asm.meta.provider_stop_reason = Some(reason.into_owned());
                    self.finish_seen = true;
                }
            }
        }
        if let Some(usage) = as_obj(chunk.get("usageMetadata")) {
            if usage.get("promptTokenCount").is_some() {
                let prompt = count(usage.get("promptTokenCount"));
                let cached = count(usage.get("cachedContentTokenCount"));
                let thoughts = count(usage.get("thoughtsTokenCount"));
                let output = count(usage.get("candidatesTokenCount")).saturating_add(thoughts);
                self.asm.meta.usage = Some([(prompt - cached).max(0), output, cached, 0, thoughts]);
            }
        }
    }

    /// One part; false when it failed the reply (nothing after it is read).
    fn part(&mut self, part: &Fields, data: &[u8], out: &mut Vec<Ev>) -> bool {
        let signature = as_str(part.get("thoughtSignature")).filter(|s| !s.is_empty());
        if let Some(call) = as_obj(part.get("functionCall")) {
            if let Some(sig) = &signature {
                self.signature_block(sig, out);
            }
            let args: Value = match call.get("args").filter(|r| r.get() != "null") {
                None => Value::Object(Default::default()),
                Some(raw) => match parse::<Value>(raw.get()) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => {
                        // a call's arguments are an object
                        self.asm.fail(Fail::Shape(data.to_vec()), out);
                        return false;
                    }
                },
            };
            let key = self.calls;
            self.calls += 1;
            let id = as_str(call.get("id"))
                .filter(|s| !s.is_empty())
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_else(|| format!("call_{key}"));
            let name = as_str(call.get("name")).unwrap_or_default();
            let arguments = cut_to_argument_depth(args).to_string();
            let k = Key::int(key);
            if !self
                .asm
                .tool_call(k.clone(), Some(&id), Some(&name), Some(&arguments), out)
            {
                return false;
            }
            self.asm.end_tool_call(&k, out);
            return true;
        }
        let Some(text) = as_str(part.get("text")) else {
            // a signature on a part this version does not model: kept
            if let Some(sig) = &signature {
                self.signature_block(sig, out);
            }
            return true; // executableCode, codeExecutionResult, toolCall…: server-side
        };
        if part.get("thought").is_some_and(|t| t.get() == "true") {
            self.asm.thinking(&text, out, false);
            if let Some(sig) = &signature {
                self.asm.thinking_signature(sig, false);
                self.asm.end_current(out); // the next thought part is a block of its own
            }
            return true;
        }
        if let Some(sig) = &signature {
            self.signature_block(sig, out);
        }
        if !text.is_empty() {
            self.asm.text(&text, out);
        }
        true
    }

    /// A signature that belongs to the part after it: a redacted thinking block.
    fn signature_block(&mut self, signature: &str, out: &mut Vec<Ev>) {
        self.asm.thinking("", out, true);
        self.asm.thinking_signature(signature, true);
        self.asm.end_current(out);
    }
}

impl WireFormat for GeminiCore {
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
        let read = with_object(data, |chunk| {
            self.chunk(&chunk, data, out);
            if !self.asm.finished && !self.finish_seen {
                self.remember(&chunk, data);
            }
        });
        if !read {
            self.asm.fail(Fail::BadJson(data.to_vec()), out);
        }
    }

    fn end_of_stream(&mut self, out: &mut Vec<Ev>) {
        if self.finish_seen {
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
    use crate::parser::StreamParser;

    fn run(body: &str) -> Vec<Ev> {
        let mut p = StreamParser::new(1 << 20, GeminiCore::new(1 << 20, false));
        let mut out = Vec::new();
        p.feed(body.as_bytes(), &mut out);
        p.end_of_stream(&mut out);
        out
    }

    #[test]
    fn thought_text_signed_call_and_usage() {
        let body = concat!(
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hmm\",\"thought\":true,\"thoughtSignature\":\"T\"}],\"role\":\"model\"}}],\"responseId\":\"r1\"}\r\n\r\n",
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"},{\"functionCall\":{\"name\":\"f\"},\"thoughtSignature\":\"S\"}]},\"finishReason\":\"STOP\"}],",
            "\"usageMetadata\":{\"promptTokenCount\":10,\"cachedContentTokenCount\":4,\"candidatesTokenCount\":3,\"thoughtsTokenCount\":2}}\r\n\r\n",
        );
        let out = run(body);
        let signed = Thinking {
            text: "hmm".into(),
            signature: Some("T".into()),
            redacted: false,
        };
        assert!(out.contains(&Ev::ThinkingEnd(0, signed)));
        assert!(out.contains(&Ev::TextEnd(1, "Hi".into())));
        let call_sig = Thinking {
            text: String::new(),
            signature: Some("S".into()),
            redacted: true,
        };
        assert!(out.contains(&Ev::ThinkingEnd(2, call_sig)));
        assert!(out.contains(&Ev::ToolEnd(3, "call_0".into(), "f".into(), "{}".into())));
        match out.last() {
            Some(Ev::Finish(meta)) => {
                assert_eq!(meta.usage, Some([6, 5, 4, 0, 2]));
                assert_eq!(meta.provider_stop_reason.as_deref(), Some("STOP"));
                assert_eq!(meta.response_id.as_deref(), Some("r1"));
            }
            other => panic!("expected a finish, got {other:?}"),
        }
    }

    #[test]
    fn truncated_error_and_bad_args() {
        let text = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\n\n";
        assert!(matches!(
            run(text).last(),
            Some(Ev::Fail(Fail::NoFinish, _))
        ));
        let err = "data: {\"error\":{\"code\":500,\"message\":\"boom\"}}\n\n";
        assert!(matches!(
            run(err).last(),
            Some(Ev::Fail(Fail::StreamError(_), _))
        ));
        let null_error = "data: {\"error\":null,\"candidates\":[{\"finishReason\":\"STOP\"}]}\n\n";
        assert!(matches!(run(null_error).last(), Some(Ev::Finish(_))));
        let bad = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":[1]}}]}}]}\n\n";
        assert!(matches!(run(bad).last(), Some(Ev::Fail(Fail::Shape(_), _))));
    }
}
