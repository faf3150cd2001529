//! tinyagent's native streaming core, exposed to Python as `tinyagent.transports._native`.
//!
//! Two layers: `ChatStreamParser` (bytes in, finished event objects out, for any wire
//! format in `parser.rs`; used under httpx)
//! and `NativeStream` (the whole HTTP stream on a shared tokio runtime; Python waits on
//! a file descriptor and drains batches). Python sees few, coarse calls; errors are
//! converted once here, and no Rust panic crosses into Python.

mod answers;
mod anthropic;
mod assembler;
mod bedrock;
mod chat;
mod eventstream;
mod formats;
mod gemini;
mod json;
mod parser;
mod proxy;
mod responses;
mod sse;
mod transport;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple, PyType};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The core's own allocations (request and response buffers, parsed events) churn on
/// every chunk, and mostly on the tokio thread: mimalloc's thread-local free lists cost
/// less there than glibc's arenas. Python's objects keep Python's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use assembler::{Ev, Fail, Meta};
use formats::{AnyParser, FORMATS};
use sse::SseLimit;

/// The Python classes events are made of, registered once by `configure`.
struct Classes {
    text_start: Py<PyType>,
    text_delta: Py<PyType>,
    text_end: Py<PyType>,
    thinking_start: Py<PyType>,
    thinking_delta: Py<PyType>,
    thinking_end: Py<PyType>,
    tool_start: Py<PyType>,
    tool_delta: Py<PyType>,
    tool_end: Py<PyType>,
    text_content: Py<PyAny>,
    thinking_content: Py<PyAny>,
    parse_tool_arguments: Py<PyAny>,
}

static CLASSES: GILOnceCell<Classes> = GILOnceCell::new();

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get(py).ok_or_else(|| {
        PyRuntimeError::new_err("tinyagent.transports._native.configure() was not called")
    })
}

/// Run `f`, turning a Rust panic into a Python RuntimeError instead of PanicException.
fn guarded<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(e) => {
            let what = e
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| e.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            Err(PyRuntimeError::new_err(format!(
                "tinyagent native core failed: {what}"
            )))
        }
    }
}

/// A slotted attrs record built without running its Python `__init__`: allocate, then
/// set the slots directly (what `object.__setattr__` does). Only for event classes
/// whose fields are all given here; they compare equal to constructor-built ones.
fn fast_record<'py>(
    py: Python<'py>,
    cls: &Py<PyType>,
    fields: &[(&Bound<'py, PyString>, Bound<'py, PyAny>)],
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: `cls` is one of the event classes `configure()` was given: slotted attrs
    // classes whose instances hold only str and int fields (checked, with equality to
    // constructed records, by `tests/transports/test_native_records.py`). `PyType_GenericAlloc` returns a new
    // reference or null (checked); untracking a fresh object before anything refers to it
    // is allowed; `from_owned_ptr` takes over that one reference; `PyObject_GenericSetAttr`
    // sets a slot through its descriptor, as `object.__setattr__` would, and reports
    // failure by returning non-zero (checked). The GIL is held throughout (`py`).
    unsafe {
        let tp = cls.as_ptr() as *mut pyo3::ffi::PyTypeObject;
        let obj = pyo3::ffi::PyType_GenericAlloc(tp, 0);
        if obj.is_null() {
            return Err(PyErr::fetch(py));
        }
        // These records hold only ints and strings, so they can never be part of a
        // reference cycle: keeping them out of the garbage collector's young generation
        // spares it from walking every delta of a long reply.
        pyo3::ffi::PyObject_GC_UnTrack(obj as *mut std::ffi::c_void);
        let obj = Bound::from_owned_ptr(py, obj);
        for (name, value) in fields {
            if pyo3::ffi::PyObject_GenericSetAttr(obj.as_ptr(), name.as_ptr(), value.as_ptr()) != 0
            {
                return Err(PyErr::fetch(py));
            }
        }
        Ok(obj)
    }
}

/// Everything the core hands to Python that is not a stream event, as one typed record:
/// the end of a message (`finish`, `fail` with a `code` and its `detail`, `closed`) and
/// the native transport's news (`started`, `http_error` with `status`, the body in
/// `detail` and the response's `headers`; `whole_body` with its `status`,
/// `content_type` and the body in `detail`; `transport` with the failure's kind in
/// `code`).
#[pyclass(module = "tinyagent.transports._native", frozen, get_all)]
pub(crate) struct Signal {
    pub kind: &'static str,
    /// The finished content blocks, in order (message ends only).
    pub content: Option<Py<PyTuple>>,
    pub provider_stop_reason: Option<String>,
    pub response_id: Option<String>,
    /// (input, output, cache_read, cache_write, reasoning), if the stream reported usage.
    pub usage: Option<(i64, i64, i64, i64, i64)>,
    pub code: Option<&'static str>,
    pub detail: Option<PyObject>,
    pub status: Option<u16>,
    /// An `http_error`'s response headers, names in lower case.
    pub headers: Option<Py<PyDict>>,
    /// A whole body's content type (`whole_body`).
    pub content_type: Option<String>,
}

impl Signal {
    pub fn new(kind: &'static str) -> Self {
        Signal {
            kind,
            content: None,
            provider_stop_reason: None,
            response_id: None,
            usage: None,
            code: None,
            detail: None,
            status: None,
            headers: None,
            content_type: None,
        }
    }
}

/// Turns `Ev` items into Python objects, keeping the finished content blocks for the
/// final message. Terminal items become `Signal`s that Python finishes.
struct Converter {
    content: Vec<Option<Py<PyAny>>>,
    /// False: leave out the delta events (a caller that wants only the final message,
    /// such as `complete()`). A block's start and end still come, so "content began" is
    /// seen, and the work per call no longer grows with the number of chunks.
    deltas: bool,
}

impl Converter {
    fn new(deltas: bool) -> Self {
        Converter {
            content: Vec::new(),
            deltas,
        }
    }

    fn put(&mut self, index: u32, obj: Py<PyAny>) {
        let i = index as usize;
        if self.content.len() <= i {
            self.content.resize_with(i + 1, || None);
        }
        self.content[i] = Some(obj);
    }

    fn content_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let items: Vec<Py<PyAny>> = self
            .content
            .iter()
            .flatten()
            .map(|o| o.clone_ref(py))
            .collect();
        PyTuple::new(py, items)
    }

    /// The signal that ends a message (`finish`, `fail` or `closed`), with what the
    /// final message needs besides its content.
    fn end_signal(&self, py: Python<'_>, kind: &'static str, meta: Meta) -> PyResult<Signal> {
        Ok(Signal {
            kind,
            content: Some(self.content_tuple(py)?.unbind()),
            provider_stop_reason: meta.provider_stop_reason,
            response_id: meta.response_id,
            usage: meta.usage.map(|[a, b, c, d, e]| (a, b, c, d, e)),
            ..Signal::new("")
        })
    }

    fn convert<'py>(
        &mut self,
        py: Python<'py>,
        evs: Vec<Ev>,
        out: &Bound<'py, PyList>,
    ) -> PyResult<()> {
        let c = classes(py)?;
        let index_s = pyo3::intern!(py, "index");
        let delta_s = pyo3::intern!(py, "delta");
        for ev in evs {
            if !self.deltas
                && matches!(
                    ev,
                    Ev::TextDelta(..) | Ev::ThinkingDelta(..) | Ev::ToolDelta(..)
                )
            {
                continue;
            }
            let obj: Bound<'py, PyAny> = match ev {
                Ev::TextStart(i) => fast_record(
                    py,
                    &c.text_start,
                    &[(index_s, i.into_pyobject(py)?.into_any())],
                )?,
                Ev::TextDelta(i, s) => fast_record(
                    py,
                    &c.text_delta,
                    &[
                        (index_s, i.into_pyobject(py)?.into_any()),
                        (delta_s, PyString::new(py, &s).into_any()),
                    ],
                )?,
                Ev::ThinkingStart(i) => fast_record(
                    py,
                    &c.thinking_start,
                    &[(index_s, i.into_pyobject(py)?.into_any())],
                )?,
                Ev::ThinkingDelta(i, s) => fast_record(
                    py,
                    &c.thinking_delta,
                    &[
                        (index_s, i.into_pyobject(py)?.into_any()),
                        (delta_s, PyString::new(py, &s).into_any()),
                    ],
                )?,
                Ev::ToolStart(i, id, name) => fast_record(
                    py,
                    &c.tool_start,
                    &[
                        (index_s, i.into_pyobject(py)?.into_any()),
                        (pyo3::intern!(py, "id"), PyString::new(py, &id).into_any()),
                        (
                            pyo3::intern!(py, "name"),
                            PyString::new(py, &name).into_any(),
                        ),
                    ],
                )?,
                Ev::ToolDelta(i, s) => fast_record(
                    py,
                    &c.tool_delta,
                    &[
                        (index_s, i.into_pyobject(py)?.into_any()),
                        (delta_s, PyString::new(py, &s).into_any()),
                    ],
                )?,
                Ev::TextEnd(i, s) => {
                    let content = c.text_content.bind(py).call1((s,))?;
                    self.put(i, content.clone().unbind());
                    c.text_end.bind(py).call1((i, content))?
                }
                Ev::ThinkingEnd(i, t) => {
                    let content =
                        c.thinking_content
                            .bind(py)
                            .call1((t.text, t.signature, t.redacted))?;
                    self.put(i, content.clone().unbind());
                    c.thinking_end.bind(py).call1((i, content))?
                }
                Ev::ToolEnd(i, id, name, args) => {
                    let call = c.parse_tool_arguments.bind(py).call1((id, name, args))?;
                    self.put(i, call.clone().unbind());
                    c.tool_end.bind(py).call1((i, call))?
                }
                Ev::Finish(meta) => {
                    Bound::new(py, self.end_signal(py, "finish", meta)?)?.into_any()
                }
                Ev::Closed(meta) => {
                    Bound::new(py, self.end_signal(py, "closed", meta)?)?.into_any()
                }
                Ev::Fail(why, meta) => {
                    let (code, detail): (&'static str, Option<PyObject>) = match why {
                        Fail::BadJson(d) => {
                            ("bad_json", Some(PyBytes::new(py, &d).into_any().unbind()))
                        }
                        Fail::Shape(d) => ("shape", Some(PyBytes::new(py, &d).into_any().unbind())),
                        Fail::StreamError(d) => (
                            "stream_error",
                            Some(PyBytes::new(py, &d).into_any().unbind()),
                        ),
                        Fail::Protocol(d) => {
                            ("protocol", Some(PyBytes::new(py, &d).into_any().unbind()))
                        }
                        Fail::Limit(SseLimit::Pending) => ("limit_pending", None),
                        Fail::Limit(SseLimit::Data) => ("limit_data", None),
                        Fail::Limit(SseLimit::Line) => ("limit_line", None),
                        Fail::ArgsTooLarge(label) => (
                            "args_too_large",
                            Some(label.into_pyobject(py)?.into_any().unbind()),
                        ),
                        Fail::Frame(message) => (
                            "frame",
                            Some(message.into_pyobject(py)?.into_any().unbind()),
                        ),
                        Fail::TruncatedEvent => ("truncated_event", None),
                        Fail::NoEvents(seen, head) => (
                            "no_events",
                            Some(
                                (seen, PyBytes::new(py, &head))
                                    .into_pyobject(py)?
                                    .into_any()
                                    .unbind(),
                            ),
                        ),
                        Fail::NoFinish => ("no_finish", None),
                        Fail::DoneNoFinish => ("done_no_finish", None),
                    };
                    let signal = Signal {
                        code: Some(code),
                        detail,
                        ..self.end_signal(py, "fail", meta)?
                    };
                    Bound::new(py, signal)?.into_any()
                }
            };
            out.append(obj)?;
        }
        Ok(())
    }
}

/// The parser for `format` (one of `FORMATS`), or a ValueError naming the known ones.
pub(crate) fn make_parser(
    format: &str,
    max_line: usize,
    max_args: usize,
    think_tags: bool,
) -> PyResult<AnyParser> {
    AnyParser::new(format, max_line, max_args, think_tags).ok_or_else(|| {
        PyValueError::new_err(format!(
            "the native core has no {format:?} parser (it speaks {FORMATS})"
        ))
    })
}

/// Layer 1: the SSE decoder and one wire format's parser, fed with response bytes.
#[pyclass(module = "tinyagent.transports._native")]
struct ChatStreamParser {
    parser: AnyParser,
    conv: Converter,
}

const DETACH_ABOVE: usize = 16 * 1024;

#[pymethods]
impl ChatStreamParser {
    #[new]
    #[pyo3(signature = (max_line_bytes, max_argument_bytes, format = "openai-chat", think_tags = false))]
    fn new(
        max_line_bytes: usize,
        max_argument_bytes: usize,
        format: &str,
        think_tags: bool,
    ) -> PyResult<Self> {
        let parser = make_parser(format, max_line_bytes, max_argument_bytes, think_tags)?;
        Ok(ChatStreamParser {
            parser,
            conv: Converter::new(true),
        })
    }

    /// Feed one read; returns event objects (the last may be a terminal `Signal`).
    fn feed<'py>(&mut self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyList>> {
        guarded(|| {
            let mut evs = Vec::new();
            if data.len() > DETACH_ABOVE {
                // Parse a large read without holding the GIL.
                let parser = &mut self.parser;
                py.allow_threads(|| parser.feed(data, &mut evs));
            } else {
                self.parser.feed(data, &mut evs);
            }
            let out = PyList::empty(py);
            self.conv.convert(py, evs, &out)?;
            Ok(out)
        })
    }

    fn end_of_stream<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        guarded(|| {
            let mut evs = Vec::new();
            self.parser.end_of_stream(&mut evs);
            let out = PyList::empty(py);
            self.conv.convert(py, evs, &out)?;
            Ok(out)
        })
    }

    /// End the open blocks now (cancellation or a transport failure).
    fn close<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        guarded(|| {
            let mut evs = Vec::new();
            self.parser.close(&mut evs);
            let out = PyList::empty(py);
            self.conv.convert(py, evs, &out)?;
            Ok(out)
        })
    }

    #[getter]
    fn finished(&self) -> bool {
        self.parser.finished()
    }
}

/// Register the Python classes events are built from (called once by the bridge).
#[pyfunction]
fn configure(py: Python<'_>, classes: &Bound<'_, PyDict>) -> PyResult<()> {
    let get = |k: &str| -> PyResult<Bound<'_, PyAny>> {
        classes
            .get_item(k)?
            .ok_or_else(|| PyRuntimeError::new_err(format!("configure: missing {k}")))
    };
    let ty = |k: &str| -> PyResult<Py<PyType>> { Ok(get(k)?.downcast_into::<PyType>()?.unbind()) };
    let value = Classes {
        text_start: ty("TextStartEvent")?,
        text_delta: ty("TextDeltaEvent")?,
        text_end: ty("TextEndEvent")?,
        thinking_start: ty("ThinkingStartEvent")?,
        thinking_delta: ty("ThinkingDeltaEvent")?,
        thinking_end: ty("ThinkingEndEvent")?,
        tool_start: ty("ToolCallStartEvent")?,
        tool_delta: ty("ToolCallDeltaEvent")?,
        tool_end: ty("ToolCallEndEvent")?,
        text_content: get("TextContent")?.unbind(),
        thinking_content: get("ThinkingContent")?.unbind(),
        parse_tool_arguments: get("parse_tool_arguments")?.unbind(),
    };
    let _ = CLASSES.set(py, value);
    Ok(())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(configure, m)?)?;
    m.add_class::<ChatStreamParser>()?;
    m.add_class::<Signal>()?;
    m.add_class::<transport::NativeStream>()?;
    m.add_class::<transport::NativeWaker>()?;
    Ok(())
}

/// For `native/benches/` only: the parsers without Python. Not an API.
#[doc(hidden)]
pub mod bench {
    pub use crate::assembler::Ev;
    pub use crate::eventstream::EventStreamDecoder;
    pub use crate::formats::AnyParser;
    pub use crate::sse::SseDecoder;
}
