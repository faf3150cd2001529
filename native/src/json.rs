//! Reading JSON as Python's `json` reads it, shared by the wire formats: types checked
//! the way `type(v) is str` does, payloads decoded with replacement when they are not
//! UTF-8, and the layout trick both formats use on their hot path.

use serde_json::value::RawValue;
use std::borrow::Cow;

pub fn first_byte(raw: &RawValue) -> u8 {
    raw.get().as_bytes().first().copied().unwrap_or(b'n')
}

/// A JSON string's value (None for any other JSON type), as Python's `type(v) is str`.
pub fn as_str(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    let raw = raw?;
    if first_byte(raw) != b'"' {
        return None;
    }
    serde_json::from_str::<Cow<str>>(raw.get()).ok()
}

/// A payload as text: as it is when it is UTF-8, else decoded with replacement (Python
/// decodes that way before parsing).
pub fn payload_text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Whether a payload is a JSON object (serde would read a struct from an array too).
pub fn is_object(text: &str) -> bool {
    text.trim_start_matches([' ', '\t', '\n', '\r']).starts_with('{')
}

/// A payload layout seen before, with one JSON string whose value varies: when a new
/// payload has the very same bytes around that string, it has the same structure, so
/// its meaning is known without parsing it again (the string itself is still decoded
/// and checked to be exactly one JSON string).
#[derive(PartialEq)]
pub struct Layout {
    prefix: Vec<u8>,
    suffix: Vec<u8>,
}

impl Layout {
    /// The layout of `data` around `raw`, a string parsed straight from `data` (None if
    /// it was parsed from a lossy copy).
    pub fn around(raw: &RawValue, data: &[u8]) -> Option<Layout> {
        let start = raw.get().as_ptr() as usize;
        let base = data.as_ptr() as usize;
        if start < base || start + raw.get().len() > base + data.len() {
            return None;
        }
        let a = start - base;
        let b = a + raw.get().len();
        Some(Layout { prefix: data[..a].to_vec(), suffix: data[b..].to_vec() })
    }

    /// The varying string of `data`, if `data` has this layout around exactly one string.
    pub fn string_in<'d>(&self, data: &'d [u8]) -> Option<Cow<'d, str>> {
        let (p, s) = (self.prefix.len(), self.suffix.len());
        if data.len() < p + s + 2 || !data.starts_with(&self.prefix) || !data.ends_with(&self.suffix) {
            return None;
        }
        let middle = std::str::from_utf8(&data[p..data.len() - s]).ok()?;
        if !middle.starts_with('"') {
            return None;
        }
        serde_json::from_str::<Cow<str>>(middle).ok()
    }
}
