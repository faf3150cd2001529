//! Provider-neutral assembly of one assistant message, the twin of
//! `tinyagent/_assembly.py`'s `MessageAssembler`: each wire format decodes its own
//! events and calls in here, which keeps the content blocks and emits `Ev` items.
//! Fragments are appended and joined once per block.

use std::collections::HashMap;

use crate::sse::SseLimit;

/// Why a stream failed; Python turns each into the same words as the pure path.
#[derive(Debug, Clone, PartialEq)]
pub enum Fail {
    BadJson(Vec<u8>),
    Shape(Vec<u8>),
    StreamError(Vec<u8>),
    Protocol(Vec<u8>),
    Limit(SseLimit),
    /// The AWS event stream's framing broke (corrupt or too long): the whole message.
    Frame(String),
    ArgsTooLarge(String),
    TruncatedEvent,
    /// The body ended without a single payload: how many bytes came, and the first of
    /// them (a page or a message where an event stream was asked for).
    NoEvents(usize, Vec<u8>),
    NoFinish,
    DoneNoFinish,
}

/// A finished thinking block: its text, signature (None if none came) and whether it
/// is redacted (encrypted, never shown).
#[derive(Debug, Clone, PartialEq)]
pub struct Thinking {
    pub text: String,
    pub signature: Option<String>,
    pub redacted: bool,
}

/// One output item. Block indices are positions in the final message's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Ev {
    TextStart(u32),
    TextDelta(u32, String),
    TextEnd(u32, String),
    ThinkingStart(u32),
    ThinkingDelta(u32, String),
    ThinkingEnd(u32, Thinking),
    ToolStart(u32, String, String),
    ToolDelta(u32, String),
    ToolEnd(u32, String, String, String),
    /// The message ended normally; Python maps the provider's reason to a stop reason.
    Finish(Meta),
    /// The message failed; Python words the reason.
    Fail(Fail, Meta),
    /// Blocks were ended on request (cancellation, transport failure).
    Closed(Meta),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Text,
    Thinking,
    Tool,
}

struct Block {
    kind: Kind,
    /// The block's text so far: appended in place (no allocation per fragment).
    buf: String,
    id: String,
    name: String,
    signature: Option<String>,
    redacted: bool,
    open: bool,
    size: usize,
}

/// A tool call's key: the provider's index (a number or, for index-less servers, the
/// call id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Num(u64), // f64 bits: JSON 0 and 0.0 are one key, as in Python
    Str(String),
}

impl Key {
    pub fn int(n: u64) -> Key {
        Key::Num((n as f64).to_bits())
    }
}

/// What the final message needs besides its content.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    pub provider_stop_reason: Option<String>,
    pub response_id: Option<String>,
    pub usage: Option<[i64; 5]>,
}

/// `<think>…</think>` in the text read as thinking, the twin of
/// `tinyagent/_think_tags.py`: the end of a piece that could start a tag is held back
/// until the next piece (or the end) says.
#[derive(Default)]
struct ThinkTags {
    in_think: bool,
    pending: String,
}

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

impl ThinkTags {
    fn feed(&mut self, text: &str, pieces: &mut Vec<(bool, String)>) {
        let mut buf = std::mem::take(&mut self.pending);
        buf.push_str(text);
        let mut rest: &str = &buf;
        while !rest.is_empty() {
            let tag = if self.in_think { CLOSE } else { OPEN };
            if let Some(i) = rest.find(tag) {
                if i > 0 {
                    pieces.push((self.in_think, rest[..i].to_owned()));
                }
                self.in_think = !self.in_think;
                rest = &rest[i + tag.len()..];
                continue;
            }
            // Tags are ASCII, so a held-back suffix never splits a character.
            let keep = (1..tag.len().min(rest.len() + 1))
                .rev()
                .find(|&k| rest.ends_with(&tag[..k]))
                .unwrap_or(0);
            if rest.len() > keep {
                pieces.push((self.in_think, rest[..rest.len() - keep].to_owned()));
            }
            self.pending = rest[rest.len() - keep..].to_owned();
            break;
        }
    }

    fn flush(&mut self) -> Option<(bool, String)> {
        let held = std::mem::take(&mut self.pending);
        (!held.is_empty()).then_some((self.in_think, held))
    }
}

pub struct Assembler {
    tags: Option<ThinkTags>,
    max_args: usize,
    blocks: Vec<Block>,
    current: Option<usize>,
    pub tools: HashMap<Key, usize>,
    pub meta: Meta,
    pub finished: bool,
}

impl Assembler {
    pub fn new(max_args: usize, think_tags: bool) -> Self {
        Assembler {
            tags: think_tags.then(ThinkTags::default),
            max_args,
            blocks: Vec::new(),
            current: None,
            tools: HashMap::new(),
            meta: Meta::default(),
            finished: false,
        }
    }

    fn push_block(&mut self, kind: Kind, id: String, name: String) -> usize {
        self.blocks.push(Block {
            kind,
            buf: String::new(),
            id,
            name,
            signature: None,
            redacted: false,
            open: true,
            size: 0,
        });
        self.blocks.len() - 1
    }

    fn open(&mut self, kind: Kind, out: &mut Vec<Ev>) -> usize {
        if let Some(cur) = self.current {
            self.close_block(cur, out);
        }
        let index = self.push_block(kind, String::new(), String::new());
        self.current = Some(index);
        out.push(if kind == Kind::Text {
            Ev::TextStart(index as u32)
        } else {
            Ev::ThinkingStart(index as u32)
        });
        index
    }

    /// Open a new text block before its first delta (a format that announces blocks,
    /// so that an empty one still has its place).
    pub fn start_text(&mut self, out: &mut Vec<Ev>) {
        self.open(Kind::Text, out);
    }

    pub fn text(&mut self, delta: &str, out: &mut Vec<Ev>) {
        if let Some(tags) = &mut self.tags {
            let mut pieces = Vec::new();
            tags.feed(delta, &mut pieces);
            self.emit_pieces(pieces, out);
            return;
        }
        self.plain_text(delta, out);
    }

    fn emit_pieces(&mut self, pieces: Vec<(bool, String)>, out: &mut Vec<Ev>) {
        for (thinking, piece) in pieces {
            if thinking {
                self.thinking(&piece, out, false);
            } else {
                self.plain_text(&piece, out);
            }
        }
    }

    fn plain_text(&mut self, delta: &str, out: &mut Vec<Ev>) {
        let index = match self.current {
            Some(i) if self.blocks[i].kind == Kind::Text => i,
            _ => self.open(Kind::Text, out),
        };
        self.blocks[index].buf.push_str(delta);
        out.push(Ev::TextDelta(index as u32, delta.to_owned()));
    }

    /// Add thinking text; `new_block` starts a block even if one is open (providers
    /// with explicit block starts), which also lets an empty signed block exist.
    pub fn thinking(&mut self, delta: &str, out: &mut Vec<Ev>, new_block: bool) {
        let index = match self.current {
            Some(i) if !new_block && self.blocks[i].kind == Kind::Thinking => i,
            _ => self.open(Kind::Thinking, out),
        };
        if !delta.is_empty() {
            self.blocks[index].buf.push_str(delta);
            out.push(Ev::ThinkingDelta(index as u32, delta.to_owned()));
        }
    }

    /// Attach (or extend) the signature of the open thinking block.
    pub fn thinking_signature(&mut self, signature: &str, redacted: bool) {
        if let Some(i) = self.current {
            let b = &mut self.blocks[i];
            if b.kind == Kind::Thinking {
                b.signature
                    .get_or_insert_with(String::new)
                    .push_str(signature);
                b.redacted |= redacted;
            }
        }
    }

    /// End the open text or thinking block (providers with explicit block stops).
    pub fn end_current(&mut self, out: &mut Vec<Ev>) {
        if let Some(cur) = self.current {
            self.close_block(cur, out);
        }
    }

    /// Add to the tool call identified by `key`. Returns false if the stream failed
    /// (the argument bound was broken).
    pub fn tool_call(
        &mut self,
        key: Key,
        call_id: Option<&str>,
        name: Option<&str>,
        args: Option<&str>,
        out: &mut Vec<Ev>,
    ) -> bool {
        let index = match self.tools.get(&key) {
            Some(&i) => {
                let b = &mut self.blocks[i];
                if !b.open {
                    return true; // its end was announced: the block is final
                }
                if let Some(id) = call_id {
                    if !id.is_empty() && b.id.is_empty() {
                        b.id = id.to_owned();
                    }
                }
                if let Some(n) = name {
                    if !n.is_empty() && b.name.is_empty() {
                        b.name = n.to_owned();
                    }
                }
                i
            }
            None => {
                if let Some(cur) = self.current {
                    self.close_block(cur, out);
                }
                let id = call_id.unwrap_or("").to_owned();
                let nm = name.unwrap_or("").to_owned();
                let i = self.push_block(Kind::Tool, id.clone(), nm.clone());
                out.push(Ev::ToolStart(i as u32, id, nm));
                self.tools.insert(key, i);
                i
            }
        };
        if let Some(a) = args {
            if !a.is_empty() {
                let b = &mut self.blocks[index];
                b.size += a.chars().count(); // Python counts code points
                if b.size > self.max_args {
                    let label = if b.name.is_empty() {
                        b.id.clone()
                    } else {
                        b.name.clone()
                    };
                    self.fail(Fail::ArgsTooLarge(label), out);
                    return false;
                }
                b.buf.push_str(a);
                out.push(Ev::ToolDelta(index as u32, a.to_owned()));
            }
        }
        true
    }

    /// The tool call's final argument text, replacing the joined fragments (a format
    /// that restates it at the end). Returns false if the stream failed (the bound).
    pub fn set_tool_arguments(&mut self, key: &Key, args: &str, out: &mut Vec<Ev>) -> bool {
        let Some(&i) = self.tools.get(key) else {
            return true;
        };
        let b = &mut self.blocks[i];
        if !b.open {
            return true;
        }
        let size = args.chars().count(); // Python counts code points
        if size > self.max_args {
            let label = if b.name.is_empty() {
                b.id.clone()
            } else {
                b.name.clone()
            };
            self.fail(Fail::ArgsTooLarge(label), out);
            return false;
        }
        b.buf = args.to_owned();
        b.size = size;
        true
    }

    pub fn end_tool_call(&mut self, key: &Key, out: &mut Vec<Ev>) {
        if let Some(&i) = self.tools.get(key) {
            if self.blocks[i].open {
                self.close_block(i, out);
            }
        }
    }

    fn close_block(&mut self, index: usize, out: &mut Vec<Ev>) {
        if self.current == Some(index) {
            self.current = None;
        }
        let b = &mut self.blocks[index];
        if !b.open {
            return;
        }
        b.open = false;
        let text = std::mem::take(&mut b.buf); // a closed block is never read again
        let i = index as u32;
        out.push(match b.kind {
            Kind::Text => Ev::TextEnd(i, text),
            Kind::Thinking => Ev::ThinkingEnd(
                i,
                Thinking {
                    text,
                    signature: b.signature.clone(),
                    redacted: b.redacted,
                },
            ),
            Kind::Tool => Ev::ToolEnd(i, b.id.clone(), b.name.clone(), text),
        });
    }

    fn close_all(&mut self, out: &mut Vec<Ev>) {
        if let Some(piece) = self.tags.as_mut().and_then(ThinkTags::flush) {
            self.emit_pieces(vec![piece], out);
        }
        for i in 0..self.blocks.len() {
            if self.blocks[i].open {
                self.close_block(i, out);
            }
        }
    }

    pub fn finish(&mut self, out: &mut Vec<Ev>) {
        self.close_all(out);
        self.finished = true;
        out.push(Ev::Finish(self.meta.clone()));
    }

    pub fn fail(&mut self, why: Fail, out: &mut Vec<Ev>) {
        self.close_all(out);
        self.finished = true;
        out.push(Ev::Fail(why, self.meta.clone()));
    }

    /// End blocks now (cancellation, transport failure); the caller builds the message.
    pub fn close(&mut self, out: &mut Vec<Ev>) {
        if !self.finished {
            self.close_all(out);
            self.finished = true;
            out.push(Ev::Closed(self.meta.clone()));
        }
    }
}
