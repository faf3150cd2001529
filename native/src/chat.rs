//! The OpenAI chat-completions wire format: SSE payloads in, `Ev` items out.
//!
//! It follows the chunk-shape rules of `tinyagent/providers/_openai_chat_parser.py`
//! exactly (same truthiness, same fallbacks, same order of fields), so that both paths
//! give the same events for the same bytes. The blocks live in the shared `Assembler`.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

use crate::assembler::{Assembler, Ev, Fail, Key};
use crate::json::{
    as_str, cut_to_argument_depth, first_byte, is_object, parse, payload_text, too_deep, Layout,
};
use crate::parser::WireFormat;

/// A remembered chunk layout (see [`Layout`]) and what its string is.
struct Template {
    layout: Layout,
    /// None: the string is a text delta; Some(key): it is arguments for that tool call.
    tool: Option<Key>,
}

pub struct ChatCore {
    asm: Assembler,
    template: Option<Template>,
    last_key: Key,
}

impl WireFormat for ChatCore {
    fn assembler(&self) -> &Assembler {
        &self.asm
    }

    fn assembler_mut(&mut self) -> &mut Assembler {
        &mut self.asm
    }

    fn payload(&mut self, data: &[u8], out: &mut Vec<Ev>) {
        ChatCore::payload(self, data, out)
    }

    fn end_of_stream(&mut self, out: &mut Vec<Ev>) {
        if self.asm.meta.provider_stop_reason.is_none() {
            self.asm.fail(Fail::NoFinish, out);
        } else {
            self.asm.finish(out);
        }
    }
}

#[derive(Deserialize)]
struct Top<'a> {
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    usage: Option<&'a RawValue>,
    #[serde(borrow, default)]
    x_groq: Option<&'a RawValue>,
    #[serde(borrow, default)]
    choices: Option<&'a RawValue>,
}

/// A struct that must come from a JSON object: serde would also build a struct from a
/// JSON array, which the Python rules treat as a shape error.
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// The usual chunk shape, read in one pass. Anything else (a hostile or odd shape)
/// fails here and takes the step-by-step path, which applies the exact rules.
#[derive(Deserialize)]
struct FastTop<'a> {
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    usage: Option<&'a RawValue>,
    #[serde(borrow, default)]
    x_groq: Option<&'a RawValue>,
    #[serde(borrow, default)]
    choices: Option<Vec<Obj<FastChoice<'a>>>>,
}

#[derive(Deserialize)]
struct FastChoice<'a> {
    #[serde(borrow, default)]
    delta: Option<Obj<Delta<'a>>>,
    #[serde(borrow, default)]
    finish_reason: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow, default)]
    delta: Option<&'a RawValue>,
    #[serde(borrow, default)]
    finish_reason: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ToolDelta<'a> {
    #[serde(borrow, default)]
    index: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    function: Option<&'a RawValue>,
}

/// A tool-call delta of the usual shape, read in one pass with its function.
#[derive(Deserialize)]
struct FastToolDelta<'a> {
    #[serde(borrow, default)]
    index: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    function: Option<Obj<FunctionDelta<'a>>>,
}

#[derive(Deserialize)]
struct FunctionDelta<'a> {
    #[serde(borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning_content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning_details: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_calls: Option<&'a RawValue>,
    #[serde(borrow, default)]
    refusal: Option<&'a RawValue>,
}

struct ShapeError;

/// Python truthiness of a JSON value.
fn truthy(raw: Option<&RawValue>) -> bool {
    let Some(raw) = raw else { return false };
    match first_byte(raw) {
        b'n' | b'f' => false,
        b't' => true,
        b'"' => raw.get() != "\"\"",
        // An array or object is truthy unless empty: look at the next non-space byte.
        b'[' | b'{' => raw.get().as_bytes()[1..]
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b != b']' && b != b'}'),
        _ => parse::<f64>(raw.get()).map(|x| x != 0.0).unwrap_or(false),
    }
}

/// A tool call's explicit `index` as a key: None for JSON null; a string or a number
/// as itself (0 and 0.0 alike, as in Python); anything else is a shape error.
fn index_key(raw: &RawValue) -> Result<Option<Key>, ShapeError> {
    match first_byte(raw) {
        b'n' => Ok(None),
        b'"' => Ok(Some(Key::Str(
            as_str(Some(raw)).ok_or(ShapeError)?.into_owned(),
        ))),
        b'-' | b'0'..=b'9' => {
            let n: f64 = parse(raw.get()).map_err(|_| ShapeError)?;
            Ok(Some(Key::Num(n.to_bits())))
        }
        _ => Err(ShapeError),
    }
}

fn as_int(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

impl ChatCore {
    pub fn new(max_args: usize, think_tags: bool) -> Self {
        ChatCore {
            asm: Assembler::new(max_args, think_tags),
            template: None,
            last_key: Key::Num(0f64.to_bits()),
        }
    }

    fn payload(&mut self, data: &[u8], out: &mut Vec<Ev>) {
        if data == b"[DONE]" {
            if self.asm.meta.provider_stop_reason.is_none() {
                self.asm.fail(Fail::DoneNoFinish, out);
            } else {
                self.asm.finish(out);
            }
            return;
        }
        if let Some(t) = &self.template {
            if let Some(value) = t.layout.string_in(data) {
                match t.tool.clone() {
                    None => {
                        if !value.is_empty() {
                            self.asm.text(&value, out);
                        }
                    }
                    Some(key) => {
                        self.last_key = key.clone();
                        let args = if value.is_empty() {
                            None
                        } else {
                            Some(value.as_ref())
                        };
                        self.asm.tool_call(key, None, None, args, out);
                    }
                }
                return;
            }
        }
        if too_deep(data) {
            self.asm.fail(Fail::BadJson(data.to_vec()), out);
            return;
        }
        let text = payload_text(data);
        let text: &str = &text;
        let is_object = is_object(text);
        if is_object {
            if let Ok(fast) = parse::<FastTop>(text) {
                if self.fast_chunk(fast, data, out).is_err() {
                    self.asm.fail(Fail::Shape(data.to_vec()), out);
                }
                return;
            }
        }
        let parsed = if is_object {
            parse::<Top>(text).ok()
        } else {
            None
        };
        let top: Top = match parsed {
            Some(t) => t,
            None => {
                // Not a JSON object (or not JSON at all): Python words the error.
                self.asm.fail(Fail::BadJson(data.to_vec()), out);
                return;
            }
        };
        if self.chunk(&top, data, out).is_err() {
            self.asm.fail(Fail::Shape(data.to_vec()), out);
        }
    }

    fn fast_chunk(&mut self, c: FastTop, data: &[u8], out: &mut Vec<Ev>) -> Result<(), ShapeError> {
        let head = Top {
            error: c.error,
            id: c.id,
            usage: c.usage,
            x_groq: c.x_groq,
            choices: None,
        };
        let plain = c.error.is_none() && c.usage.is_none() && c.x_groq.is_none();
        if !self.head(&head, data, out) {
            return Ok(());
        }
        let Some(choices) = c.choices else {
            return Ok(());
        };
        let Some(Obj(choice)) = choices.into_iter().next() else {
            return Ok(());
        };
        if let Some(Obj(delta)) = choice.delta {
            let known_tools = self.asm.tools.len();
            self.delta(&delta, out)?;
            if self.asm.finished {
                return Ok(());
            }
            if plain && choice.finish_reason.is_none() && self.asm.meta.response_id.is_some() {
                self.remember_template(&delta, data, known_tools);
            }
        }
        if let Some(reason) = as_str(choice.finish_reason) {
            if !reason.is_empty() {
                self.asm.meta.provider_stop_reason = Some(reason.into_owned());
            }
        }
        Ok(())
    }

    /// After a chunk that only added text, or only appended arguments to a known tool
    /// call, remember its layout around that string (see [`Template`]).
    fn remember_template(&mut self, d: &Delta, data: &[u8], known_tools: usize) {
        let others_absent = d.reasoning_content.is_none()
            && d.reasoning.is_none()
            && d.reasoning_details.is_none()
            && d.refusal.is_none();
        if !others_absent {
            return;
        }
        let (raw, tool): (&RawValue, Option<Key>) = match (d.content, d.tool_calls) {
            (Some(c), None) if first_byte(c) == b'"' => (c, None),
            (None, Some(tc)) if self.asm.tools.len() == known_tools => {
                // Exactly one delta for an existing call, with only its arguments.
                let Ok(calls) = parse::<Vec<&RawValue>>(tc.get()) else {
                    return;
                };
                let [one] = calls.as_slice() else { return };
                let Ok(t) = parse::<ToolDelta>(one.get()) else {
                    return;
                };
                let (Some(index), None, Some(f)) = (t.index, t.id, t.function) else {
                    return;
                };
                let Ok(f) = parse::<FunctionDelta>(f.get()) else {
                    return;
                };
                let (None, Some(args)) = (f.name, f.arguments) else {
                    return;
                };
                if first_byte(args) != b'"' {
                    return;
                }
                let Ok(Some(key)) = index_key(index) else {
                    return;
                };
                if !self.asm.tools.contains_key(&key) {
                    return;
                }
                (args, Some(key))
            }
            _ => return,
        };
        // Only a string parsed straight from `data` (not from a lossy copy) has a layout.
        if let Some(layout) = Layout::around(raw, data) {
            self.template = Some(Template { layout, tool });
        }
    }

    /// The chunk's error, id and usage; false if it was an error object (the end).
    fn head(&mut self, c: &Top, data: &[u8], out: &mut Vec<Ev>) -> bool {
        if c.error.is_some() {
            self.asm.fail(Fail::StreamError(data.to_vec()), out);
            return false;
        }
        if self.asm.meta.response_id.is_none() {
            if let Some(id) = as_str(c.id) {
                self.asm.meta.response_id = Some(id.into_owned());
            }
        }
        let mut usage: Option<Value> = c.usage.and_then(|u| parse(u.get()).ok());
        if c.usage.is_none() {
            if let Some(xg) = c.x_groq {
                if let Ok(Value::Object(m)) = parse::<Value>(xg.get()) {
                    usage = m.get("usage").cloned();
                }
            }
        }
        if let Some(Value::Object(u)) = &usage {
            if !u.is_empty() {
                self.usage(u);
            }
        }
        true
    }

    fn chunk(&mut self, c: &Top, data: &[u8], out: &mut Vec<Ev>) -> Result<(), ShapeError> {
        if !self.head(c, data, out) {
            return Ok(());
        }
        if !truthy(c.choices) {
            return Ok(());
        }
        let choices: Vec<&RawValue> = parse(c.choices.unwrap().get()).map_err(|_| ShapeError)?;
        let first = choices[0];
        if first_byte(first) != b'{' {
            return Err(ShapeError);
        }
        let choice: Choice = parse(first.get()).map_err(|_| ShapeError)?;
        if truthy(choice.delta) {
            let raw = choice.delta.unwrap();
            if first_byte(raw) != b'{' {
                return Err(ShapeError);
            }
            let delta: Delta = parse(raw.get()).map_err(|_| ShapeError)?;
            self.delta(&delta, out)?;
            if self.asm.finished {
                return Ok(()); // an argument bound was broken mid-chunk
            }
        }
        if let Some(reason) = as_str(choice.finish_reason) {
            if !reason.is_empty() {
                self.asm.meta.provider_stop_reason = Some(reason.into_owned());
            }
        }
        Ok(())
    }

    fn delta(&mut self, d: &Delta, out: &mut Vec<Ev>) -> Result<(), ShapeError> {
        let reasoning = if truthy(d.reasoning_content) {
            d.reasoning_content
        } else {
            d.reasoning
        };
        if truthy(reasoning) {
            if let Some(s) = as_str(reasoning) {
                self.asm.thinking(&s, out, false);
            }
        } else if let Some(raw) = d.reasoning_details {
            if let Ok(Value::Array(items)) = parse::<Value>(raw.get()) {
                for item in items {
                    let Value::Object(m) = item else { continue };
                    let field = match m.get("type").and_then(Value::as_str) {
                        Some("reasoning.text") => "text",
                        Some("reasoning.summary") => "summary",
                        _ => continue,
                    };
                    if let Some(Value::String(s)) = m.get(field) {
                        if !s.is_empty() {
                            self.asm.thinking(s, out, false);
                        }
                    }
                }
            }
        }
        if truthy(d.content) {
            let raw = d.content.unwrap();
            match first_byte(raw) {
                b'"' => {
                    if let Some(s) = as_str(Some(raw)) {
                        self.asm.text(&s, out);
                    }
                }
                b'[' => self.content_parts(raw, out),
                _ => return Err(ShapeError),
            }
        }
        if truthy(d.tool_calls) {
            let raw = d.tool_calls.unwrap();
            if first_byte(raw) != b'[' {
                return Err(ShapeError);
            }
            if let Ok(fast) = parse::<Vec<Obj<FastToolDelta>>>(raw.get()) {
                for Obj(tc) in fast {
                    let f = tc.function.map_or(
                        FunctionDelta {
                            name: None,
                            arguments: None,
                        },
                        |o| o.0,
                    );
                    if !self.tool_call_fields(tc.index, tc.id, f, out)? {
                        break;
                    }
                }
            } else {
                let calls: Vec<&RawValue> = parse(raw.get()).map_err(|_| ShapeError)?;
                self.tool_calls(calls, out)?;
            }
            if self.asm.finished {
                return Ok(());
            }
        }
        if let Some(s) = as_str(d.refusal) {
            if !s.is_empty() {
                self.asm.text(&s, out);
            }
        }
        Ok(())
    }

    fn content_parts(&mut self, raw: &RawValue, out: &mut Vec<Ev>) {
        let Ok(Value::Array(parts)) = parse::<Value>(raw.get()) else {
            return;
        };
        for p in parts {
            let Value::Object(m) = p else { continue };
            match m.get("type").and_then(Value::as_str) {
                Some("text") => {
                    if let Some(Value::String(s)) = m.get("text") {
                        if !s.is_empty() {
                            self.asm.text(s, out);
                        }
                    }
                }
                Some("thinking") => match m.get("thinking") {
                    Some(Value::String(s)) if !s.is_empty() => self.asm.thinking(s, out, false),
                    Some(Value::Array(inner)) => {
                        for q in inner {
                            if let Value::Object(qm) = q {
                                if let Some(Value::String(s)) = qm.get("text") {
                                    if !s.is_empty() {
                                        self.asm.thinking(s, out, false);
                                    }
                                }
                            }
                        }
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }

    fn tool_calls(&mut self, calls: Vec<&RawValue>, out: &mut Vec<Ev>) -> Result<(), ShapeError> {
        for raw in calls {
            if first_byte(raw) != b'{' {
                return Err(ShapeError);
            }
            let tc: ToolDelta = parse(raw.get()).map_err(|_| ShapeError)?;
            let f = match tc.function {
                Some(f) if first_byte(f) == b'{' => {
                    parse::<FunctionDelta>(f.get()).map_err(|_| ShapeError)?
                }
                _ => FunctionDelta {
                    name: None,
                    arguments: None,
                },
            };
            if !self.tool_call_fields(tc.index, tc.id, f, out)? {
                break;
            }
        }
        Ok(())
    }

    /// One tool-call delta; Ok(false) if it broke the argument bound (the stream ended).
    fn tool_call_fields(
        &mut self,
        index: Option<&RawValue>,
        id: Option<&RawValue>,
        f: FunctionDelta,
        out: &mut Vec<Ev>,
    ) -> Result<bool, ShapeError> {
        let call_id = as_str(id);
        let fallback = |this: &Self| match &call_id {
            Some(s) if !s.is_empty() => Key::Str(s.to_string()),
            _ => this.last_key.clone(),
        };
        let key = match index.map(index_key).transpose()?.flatten() {
            Some(key) => key,
            None => fallback(self),
        };
        if self.last_key != key {
            self.last_key = key.clone();
        }
        let name = as_str(f.name);
        let args: Option<Cow<str>> = match f.arguments {
            None => None,
            Some(a) => match first_byte(a) {
                b'n' => None,
                b'"' => as_str(Some(a)),
                // A server that sends an object, not text: compact JSON text.
                _ => parse::<Value>(a.get())
                    .ok()
                    .map(|v| Cow::Owned(cut_to_argument_depth(v).to_string())),
            },
        };
        Ok(self.asm.tool_call(
            key,
            call_id.as_deref(),
            name.as_deref(),
            args.as_deref(),
            out,
        ))
    }

    fn usage(&mut self, u: &serde_json::Map<String, Value>) {
        let prompt = as_int(u.get("prompt_tokens"));
        let details = match u.get("prompt_tokens_details") {
            Some(Value::Object(d)) => Some(d),
            _ => None,
        };
        let mut cached = details.map(|d| as_int(d.get("cached_tokens"))).unwrap_or(0);
        if cached == 0 {
            cached = as_int(u.get("prompt_cache_hit_tokens"));
        }
        let written = details
            .map(|d| as_int(d.get("cache_write_tokens")))
            .unwrap_or(0);
        let reasoning = match u.get("completion_tokens_details") {
            Some(Value::Object(d)) => as_int(d.get("reasoning_tokens")),
            _ => 0,
        };
        let input = (prompt - cached - written).max(0);
        self.asm.meta.usage = Some([
            input,
            as_int(u.get("completion_tokens")),
            cached,
            written,
            reasoning,
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::assembler::Meta;
    use crate::parser::StreamParser;

    fn run(body: &[u8], cuts: &[usize]) -> (Vec<Ev>, Meta) {
        let mut p = StreamParser::new(1 << 20, ChatCore::new(1 << 20, false));
        let mut out = Vec::new();
        let mut last = 0;
        for &c in cuts {
            let c = c.min(body.len()).max(last);
            p.feed(&body[last..c], &mut out);
            last = c;
        }
        p.feed(&body[last..], &mut out);
        p.end_of_stream(&mut out);
        let meta = p.meta();
        (out, meta)
    }

    #[test]
    fn text_and_tool_calls() {
        let body = concat!(
            "data: {\"id\":\"r1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: [DONE]\n\n"
        );
        let (out, meta) = run(body.as_bytes(), &[]);
        assert_eq!(
            out,
            vec![
                Ev::TextStart(0),
                Ev::TextDelta(0, "Hi".into()),
                Ev::TextEnd(0, "Hi".into()),
                Ev::ToolStart(1, "c".into(), "f".into()),
                Ev::ToolDelta(1, "{\"a\"".into()),
                Ev::ToolDelta(1, ":1}".into()),
                Ev::ToolEnd(1, "c".into(), "f".into(), "{\"a\":1}".into()),
                Ev::Finish(meta.clone()),
            ]
        );
        assert_eq!(meta.response_id.as_deref(), Some("r1"));
        assert_eq!(meta.provider_stop_reason.as_deref(), Some("tool_calls"));
    }

    #[test]
    fn bad_json_and_truncation() {
        let (out, _) = run(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {oops\n\n",
            &[],
        );
        assert!(matches!(out.last(), Some(Ev::Fail(Fail::BadJson(d), _)) if d == b"{oops"));
        let (out, _) = run(b"data: {\"choices\":[]}\n\n", &[]);
        assert!(matches!(out.last(), Some(Ev::Fail(Fail::NoFinish, _))));
    }

    proptest! {
        // Any split of the byte stream gives the same items (the fuzz target of the
        // parser: arbitrary bytes never panic, and splits never change the result).
        #[test]
        fn splits_do_not_change_items(text in "[a-z \\\\\"é😊]{0,40}", cuts in proptest::collection::vec(0usize..400, 0..6)) {
            let chunk = serde_json::json!({"choices":[{"delta":{"content": text}}]}).to_string();
            let body = format!("data: {chunk}\r\n\r\ndata: {{\"choices\":[{{\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\ndata: [DONE]\n\n");
            let mut sorted = cuts.clone();
            sorted.sort();
            prop_assert_eq!(run(body.as_bytes(), &sorted), run(body.as_bytes(), &[]));
        }

        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..600), cuts in proptest::collection::vec(0usize..600, 0..5)) {
            let mut sorted = cuts.clone();
            sorted.sort();
            let _ = run(&body, &sorted);
        }
    }
}
