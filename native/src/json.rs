//! Reading JSON as Python's `json` reads it, shared by the wire formats: types checked
//! the way `type(v) is str` does, payloads decoded with replacement when they are not
//! UTF-8, and the layout trick both formats use on their hot path.
//!
//! The two rules of `tinyagent/_json.py` hold here too: a lone surrogate escape decodes
//! as U+FFFD (the payload's escape is rewritten to `\ufffd`, same length, before
//! parsing), and a payload nested more than `MAX_DEPTH` levels is malformed. Within the
//! limit, values parse at any depth (serde's own limit of 128 is lifted), as in Python.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// orjson's limit, which the Python path inherits.
pub const MAX_DEPTH: usize = 1024;
/// Tool arguments nested deeper are refused (`MAX_ARGUMENT_DEPTH` in `_assembly.py`).
pub const MAX_ARGUMENT_DEPTH: usize = 128;

/// `serde_json::from_str` without serde's recursion limit: payloads were checked
/// against `MAX_DEPTH` before any parse (see [`too_deep`]).
pub fn parse<'a, T: Deserialize<'a>>(text: &'a str) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let value = T::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Whether `data` nests arrays and objects more than `MAX_DEPTH` levels deep. Counting
/// brackets bounds the depth from above, so almost every payload skips the exact scan.
pub fn too_deep(data: &[u8]) -> bool {
    if memchr::memchr2_iter(b'[', b'{', data).count() <= MAX_DEPTH {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in data {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

fn hex4(b: &[u8]) -> Option<u16> {
    let s = std::str::from_utf8(b.get(..4)?).ok()?;
    if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(s, 16).ok()
}

/// `text` with each lone surrogate escape replaced by `\ufffd` (a pair is kept: serde
/// joins it), as Python's `json` followed by our U+FFFD rule reads it.
fn without_lone_surrogates(text: Cow<'_, str>) -> Cow<'_, str> {
    let b = text.as_bytes();
    // A backslash search, not a substring searcher: building one costs more than a
    // typical payload's whole scan.
    let maybe = memchr::memchr_iter(b'\\', b)
        .any(|i| b.get(i + 1) == Some(&b'u') && matches!(b.get(i + 2), Some(b'd' | b'D')));
    if !maybe {
        return text;
    }
    let mut out = String::with_capacity(b.len());
    let (mut i, mut copied) = (0usize, 0usize);
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        if b.get(i + 1) != Some(&b'u') {
            i += 2; // any other escape, `\\` included: skip both bytes
            continue;
        }
        match hex4(&b[i + 2..]) {
            Some(0xD800..=0xDBFF) => {
                let pair = b.get(i + 6) == Some(&b'\\')
                    && b.get(i + 7) == Some(&b'u')
                    && matches!(hex4(&b[(i + 8).min(b.len())..]), Some(0xDC00..=0xDFFF));
                if pair {
                    i += 12;
                } else {
                    out.push_str(&text[copied..i]);
                    out.push_str("\\ufffd");
                    i += 6;
                    copied = i;
                }
            }
            Some(0xDC00..=0xDFFF) => {
                out.push_str(&text[copied..i]);
                out.push_str("\\ufffd");
                i += 6;
                copied = i;
            }
            _ => i += 2,
        }
    }
    if copied == 0 {
        return text;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

pub fn first_byte(raw: &RawValue) -> u8 {
    raw.get().as_bytes().first().copied().unwrap_or(b'n')
}

/// A JSON string's value (None for any other JSON type), as Python's `type(v) is str`.
pub fn as_str(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    let raw = raw?;
    if first_byte(raw) != b'"' {
        return None;
    }
    parse::<Cow<str>>(raw.get()).ok()
}

/// A payload as text: as it is when it is UTF-8, else decoded with replacement (Python
/// decodes that way before parsing), with lone surrogate escapes made `\ufffd`.
pub fn payload_text(data: &[u8]) -> Cow<'_, str> {
    without_lone_surrogates(String::from_utf8_lossy(data))
}

/// Whether a payload is a JSON object (serde would read a struct from an array too).
pub fn is_object(text: &str) -> bool {
    text.trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
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
        Some(Layout {
            prefix: data[..a].to_vec(),
            suffix: data[b..].to_vec(),
        })
    }

    /// The varying string of `data`, if `data` has this layout around exactly one string.
    pub fn string_in<'d>(&self, data: &'d [u8]) -> Option<Cow<'d, str>> {
        let (p, s) = (self.prefix.len(), self.suffix.len());
        if data.len() < p + s + 2
            || !data.starts_with(&self.prefix)
            || !data.ends_with(&self.suffix)
        {
            return None;
        }
        let middle = std::str::from_utf8(&data[p..data.len() - s]).ok()?;
        if !middle.starts_with('"') {
            return None;
        }
        parse::<Cow<str>>(middle).ok()
    }
}

// --- objects read as field lists, shared by the event formats -------------------

/// A JSON object's fields in order, values left raw. Looked up from the end, so a
/// duplicated key reads as its last value, as Python's `json` reads it (serde's derived
/// structs reject duplicates instead).
pub struct Fields<'a>(Vec<(Key<'a>, &'a RawValue)>);

/// An object key, borrowed from the payload unless it held escapes.
pub struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(entry) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> Fields<'a> {
    /// The one key of an object that has one (as Python's dict has it: a key given
    /// twice is one key, its last value), or None.
    pub fn single(&self) -> Option<(&str, &'a RawValue)> {
        let (first, _) = self.0.first()?;
        if self.0.iter().any(|(k, _)| k.0 != first.0) {
            return None;
        }
        self.0.last().map(|(k, v)| (k.0.as_ref(), *v))
    }

    /// The fields in order, duplicates included.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &'a RawValue)> + '_ {
        self.0.iter().map(|(k, v)| (k.0.as_ref(), *v))
    }

    /// How many fields (duplicates counted).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k.0 == key)
            .map(|(_, v)| *v)
    }
}

/// A JSON integer (Python's `type(v) is int`): no fraction, no exponent.
pub fn as_int(raw: Option<&RawValue>) -> Option<i64> {
    let text = raw?.get();
    let b = text.as_bytes().first().copied()?;
    if !(b == b'-' || b.is_ascii_digit()) || text.contains(['.', 'e', 'E']) {
        return None;
    }
    text.parse::<i64>().ok()
}

/// A block index: a non-negative JSON integer.
pub fn as_index(raw: Option<&RawValue>) -> Option<u64> {
    as_int(raw).and_then(|i| u64::try_from(i).ok())
}

/// `data` read as one JSON object and handed to `f`; false (nothing called) when it is
/// too deep, not JSON or not an object: the format then fails the reply, and Python
/// words why from the payload, as its own parser would.
pub fn with_object(data: &[u8], f: impl FnOnce(Fields)) -> bool {
    if too_deep(data) {
        return false;
    }
    let text = payload_text(data);
    let text: &str = &text;
    match parse::<Fields>(text) {
        Ok(fields) if is_object(text) => {
            f(fields);
            true
        }
        _ => false,
    }
}

/// A JSON object's fields, or None for any other JSON type.
pub fn as_obj(raw: Option<&RawValue>) -> Option<Fields<'_>> {
    let raw = raw?;
    if first_byte(raw) != b'{' {
        return None;
    }
    parse(raw.get()).ok()
}

/// The byte range of `raw` within `data`, when it was parsed straight from `data`.
pub fn span(raw: &RawValue, data: &[u8]) -> Option<(usize, usize)> {
    let (start, base) = (raw.get().as_ptr() as usize, data.as_ptr() as usize);
    let end = start + raw.get().len();
    (start >= base && end <= base + data.len()).then(|| (start - base, end - base))
}

/// What a varying part of a [`MaskedLayout`] holds.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Slot {
    /// A non-negative integer that is not read (a sequence number).
    Digits,
    /// A string that is not read (an obfuscation pad).
    Ignored,
    /// The string that is read (the delta).
    Target,
    /// A non-negative integer that is read (a running token count).
    Count,
}

/// A payload layout seen before with several varying scalars: fixed bytes between
/// them. When a new payload has the very same fixed bytes and each varying part is a
/// well-formed token of its kind, it has the same structure, so only the target string
/// needs decoding ([`Layout`] for formats where only one string varies).
#[derive(PartialEq, Debug)]
pub struct MaskedLayout {
    fixed: Vec<Vec<u8>>,
    slots: Vec<Slot>,
}

/// The length of the JSON string token at the start of `b` (quotes included).
fn string_token(b: &[u8]) -> Option<usize> {
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Whether a string token (quotes included) is a valid JSON string, its content
/// unread: no control character, every escape well formed. Its bytes need not be UTF-8:
/// the Python path decodes with replacement, which keeps the JSON valid.
fn valid_string(token: &[u8]) -> bool {
    let inner = &token[1..token.len() - 1];
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            b if b < 0x20 => return false,
            b'\\' => match inner.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u')
                    if inner.len() >= i + 6
                        && inner[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit) =>
                {
                    i += 6
                }
                _ => return false,
            },
            _ => i += 1,
        }
    }
    true
}

impl MaskedLayout {
    /// The layout of `data` with the given varying spans (byte ranges of raw values
    /// parsed straight from `data`); None if they overlap or one is not its kind.
    pub fn new(data: &[u8], mut spans: Vec<(usize, usize, Slot)>) -> Option<MaskedLayout> {
        spans.sort_by_key(|s| s.0);
        let (mut fixed, mut slots, mut pos) = (Vec::new(), Vec::new(), 0);
        for (start, end, slot) in spans {
            if start < pos || end > data.len() {
                return None;
            }
            let token = &data[start..end];
            let ok = match slot {
                Slot::Digits | Slot::Count => {
                    !token.is_empty() && token.len() <= 18 && token.iter().all(u8::is_ascii_digit)
                }
                _ => string_token(token) == Some(token.len()),
            };
            if !ok {
                return None;
            }
            fixed.push(data[pos..start].to_vec());
            slots.push(slot);
            pos = end;
        }
        fixed.push(data[pos..].to_vec());
        slots
            .contains(&Slot::Target)
            .then_some(MaskedLayout { fixed, slots })
    }

    /// The target string of `data`, if `data` has this layout.
    pub fn target_in<'d>(&self, data: &'d [u8]) -> Option<Cow<'d, str>> {
        self.read(data, &mut Vec::new())
    }

    /// The target string of `data`, if `data` has this layout, with the values of its
    /// `Count` slots (in order) in `counts`.
    pub fn read<'d>(&self, data: &'d [u8], counts: &mut Vec<i64>) -> Option<Cow<'d, str>> {
        counts.clear();
        let mut pos = 0;
        let mut target = None;
        for (fixed, slot) in self.fixed.iter().zip(&self.slots) {
            if !data[pos..].starts_with(fixed) {
                return None;
            }
            pos += fixed.len();
            let rest = &data[pos..];
            let len = match slot {
                Slot::Digits | Slot::Count => {
                    let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                    if n == 0 || n > 18 || (n > 1 && rest[0] == b'0') {
                        return None; // not a plain integer (JSON forbids leading zeros)
                    }
                    if *slot == Slot::Count {
                        // at most 18 digits: always an i64
                        counts.push(std::str::from_utf8(&rest[..n]).ok()?.parse().ok()?);
                    }
                    n
                }
                Slot::Ignored => {
                    let n = string_token(rest)?;
                    valid_string(&rest[..n]).then_some(())?;
                    n
                }
                Slot::Target => {
                    let n = string_token(rest)?;
                    let token = &rest[..n];
                    let inner = &token[1..n - 1];
                    target = Some(if memchr::memchr(b'\\', inner).is_none() {
                        // No escape: the value is the bytes themselves, when they are
                        // UTF-8 with no control character (as serde would check).
                        if inner.iter().any(|&b| b < 0x20) {
                            return None;
                        }
                        Cow::Borrowed(std::str::from_utf8(inner).ok()?)
                    } else {
                        parse::<Cow<str>>(std::str::from_utf8(token).ok()?).ok()?
                    });
                    n
                }
            };
            pos += len;
        }
        (data[pos..] == *self.fixed.last()?).then_some(())?;
        target
    }
}

/// A tool input given whole (not as text), with its containers below the argument depth
/// limit emptied (`cut_to_argument_depth` in `_assembly.py`): its text is still too deep
/// and says so when parsed, yet small enough for any encoder.
pub fn cut_to_argument_depth(value: serde_json::Value) -> serde_json::Value {
    fn cut(v: serde_json::Value, level: usize) -> serde_json::Value {
        use serde_json::Value;
        match v {
            Value::Object(m) if level > MAX_ARGUMENT_DEPTH => {
                drop_iteratively(Value::Object(m));
                Value::Object(Default::default())
            }
            Value::Array(a) if level > MAX_ARGUMENT_DEPTH => {
                drop_iteratively(Value::Array(a));
                Value::Array(Vec::new())
            }
            Value::Object(m) => {
                Value::Object(m.into_iter().map(|(k, x)| (k, cut(x, level + 1))).collect())
            }
            Value::Array(a) => Value::Array(a.into_iter().map(|x| cut(x, level + 1)).collect()),
            other => other,
        }
    }
    cut(value, 1)
}

/// Drop a value without recursing once per level (a deep value is within `MAX_DEPTH`,
/// but the stack it would take is not ours to spend).
fn drop_iteratively(value: serde_json::Value) {
    use serde_json::Value;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(a) => stack.extend(a),
            Value::Object(m) => stack.extend(m.into_iter().map(|(_, x)| x)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(s: &str) -> String {
        without_lone_surrogates(Cow::Borrowed(s)).into_owned()
    }

    #[test]
    fn lone_surrogate_escapes_become_replacement_escapes() {
        assert_eq!(fixed(r#""a\ud83d""#), r#""a\ufffd""#);
        assert_eq!(fixed(r#""\ude00b""#), r#""\ufffdb""#);
        assert_eq!(fixed(r#""\ud83d\ude00""#), r#""\ud83d\ude00""#); // a pair is kept
        assert_eq!(fixed(r#""\uD83D\uDE00""#), r#""\uD83D\uDE00""#);
        assert_eq!(fixed(r#""\ud83d\u0041""#), r#""\ufffd\u0041""#);
        assert_eq!(fixed(r#""\ude00\ud83d""#), r#""\ufffd\ufffd""#);
        assert_eq!(fixed(r#""\\ud800""#), r#""\\ud800""#); // an escaped backslash, then text
        assert_eq!(fixed(r#""\\\ud800""#), r#""\\\ufffd""#);
        assert_eq!(fixed(r#""\ud8""#), r#""\ud8""#); // broken escape: left for serde to refuse
        let v: String = parse(&fixed(r#""x\ud800y""#)).unwrap();
        assert_eq!(v, "x\u{fffd}y");
    }

    #[test]
    fn depth_is_bounded_outside_strings_only() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(!too_deep(deep(MAX_DEPTH).as_bytes()));
        assert!(too_deep(deep(MAX_DEPTH + 1).as_bytes()));
        let in_string = format!(r#"{{"a":"{}"}}"#, "[".repeat(5000));
        assert!(!too_deep(in_string.as_bytes()));
        let escaped = format!(r#"{{"a":"\"{}"}}"#, "{".repeat(5000));
        assert!(!too_deep(escaped.as_bytes()));
        // Parsing at the limit recurses once per level: fine on release frames, but a
        // debug build's frames are larger than a test thread's default stack.
        let text = deep(MAX_DEPTH);
        let parsed = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || {
                parse::<serde_json::Value>(&text)
                    .map(drop_iteratively)
                    .is_ok()
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(parsed);
    }

    #[test]
    fn deep_inputs_are_cut_below_the_argument_limit() {
        let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
        let v: serde_json::Value = parse(&format!(r#"{{"a":{deep}}}"#)).unwrap();
        let text = cut_to_argument_depth(v).to_string();
        assert_eq!(text.matches('[').count(), MAX_ARGUMENT_DEPTH);
    }
}
