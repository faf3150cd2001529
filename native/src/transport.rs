//! Layer 2: the HTTP stream on a shared tokio runtime.
//!
//! A tokio task sends the request, reads the body, parses it with the format's parser and
//! queues the resulting items. It wakes Python by writing one byte to a pipe when the
//! queue gets the first item Python must see since its last drain (for a call that reads
//! no events, only its end: see `Shared::quiet`); Python awaits the pipe with
//! `anyio.wait_readable` (trio and asyncio alike) and drains the whole batch. No thread
//! is parked per stream, and bytes never enter Python. Cancelling (`cancel`, or
//! dropping the stream) aborts the task, which drops the response and closes the
//! connection.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyBytes, PyList, PyString};
use tokio::runtime::Runtime;
use tokio::task::AbortHandle;

use crate::answers::{
    compressed_stream_cut, failure_kind, head_size, hyper_error, is_whole_body, read_body,
    MAX_HEAD_BYTES,
};
use crate::assembler::Ev;
use crate::formats::AnyParser;
use crate::{guarded, make_parser, Converter, Signal};

const ERROR_BODY_LIMIT: usize = 64 * 1024;
const DRAIN_LIMIT: usize = 64 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(1);

enum Item {
    /// Response headers arrived with a success status.
    Started,
    Ev(Ev),
    /// A success status whose body is a whole document (JSON, HTML, XML) or none (204,
    /// 205), not the event stream asked for: its status, type and (up to the line limit
    /// of) its body, for Python to read as every transport does.
    WholeBody {
        status: u16,
        content_type: String,
        body: Vec<u8>,
    },
    /// An answer that is no reply (an error, a redirect), with (a bounded excerpt of)
    /// its body and its headers: Python reads what it needs from them (the wait, where
    /// to, the request's id) by the rules httpx's path uses, in `_errors.py`.
    HttpError {
        status: u16,
        body: Vec<u8>,
        headers: Vec<(String, String)>,
    },
    /// A transport failure: "connect", "connect_timeout", "read_timeout", "no_response",
    /// "closed", "other".
    Transport {
        kind: &'static str,
        detail: String,
    },
}

/// How a stream tells Python it has items: a byte on its own pipe, or its id on an event
/// loop's shared waker (one descriptor for every stream of the loop).
enum Wake {
    Own(UnixStream),
    Shared(Arc<WakerInner>, u64),
}

/// The items Python has not drained, and whether it was woken for them already.
#[derive(Default)]
struct Queue {
    items: Vec<Item>,
    rung: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    /// A call that reads no events (`deltas=False`: only the final message) is woken
    /// once, at its end, not at its headers and chunk by chunk: the items wait here
    /// until the parser finishes, a failure comes, or the queue reaches `HIGH_WATER`.
    /// Python then reads them in order, as it would have in several drains.
    quiet: bool,
    /// Signalled by Python after each drain: the task waits on it while the queue is
    /// over its bound, so a slow consumer slows the stream instead of growing memory.
    space: tokio::sync::Notify,
    wake: Wake,
    /// The parser lives here, not in the task, so that an abort from Python can end
    /// its open blocks and keep the partial reply.
    parser: Mutex<AnyParser>,
}

/// Queued items above which the request task stops reading until Python drains.
const HIGH_WATER: usize = 4096;

impl Shared {
    fn queued(&self) -> usize {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .items
            .len()
    }

    fn take(&self) -> Vec<Item> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.rung = false;
        std::mem::take(&mut q.items)
    }

    async fn wait_for_space(&self) {
        while self.queued() > HIGH_WATER {
            self.space.notified().await;
        }
    }

    /// Queue items Python must see now (an end, a failure, a status).
    fn push(&self, items: Vec<Item>) {
        self.push_as(items, true);
    }

    /// Queue items, waking Python if it has not been woken since its last drain and
    /// either `urgent` or the stream is not quiet (or the queue is at its bound, which
    /// only a drain lowers).
    fn push_as(&self, items: Vec<Item>, urgent: bool) {
        if items.is_empty() {
            return;
        }
        let ring = {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.items.extend(items);
            let due = urgent || !self.quiet || q.items.len() > HIGH_WATER;
            let ring = due && !q.rung;
            q.rung |= ring;
            ring
        };
        if ring {
            match &self.wake {
                Wake::Own(fd) => poke(fd),
                Wake::Shared(waker, id) => waker.notify(*id),
            }
        }
    }
}

fn poke(mut end: &UnixStream) {
    // A full buffer already holds a wake-up; nothing is lost by a failed write.
    let _ = end.write(&[1u8]);
}

fn empty_pipe(mut end: &UnixStream) {
    let mut buf = [0u8; 256];
    while matches!(end.read(&mut buf), Ok(n) if n > 0) {}
}

/// The descriptor a loop's waker rings and Python waits on. On Linux an eventfd: a
/// ring is a counter bump (no socket buffer), and one read clears it.
#[cfg(target_os = "linux")]
struct Bell(std::fs::File);

#[cfg(target_os = "linux")]
impl Bell {
    fn new() -> std::io::Result<Self> {
        use std::os::fd::FromRawFd;
        // SAFETY: eventfd returns a new descriptor we own, or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is open and owned by nothing else.
        Ok(Bell(unsafe { std::fs::File::from_raw_fd(fd) }))
    }

    fn ring(&self) {
        // A full counter (never, at 2^64 - 2) already means "readable".
        let _ = (&self.0).write(&1u64.to_ne_bytes());
    }

    fn clear(&self) {
        let mut buf = [0u8; 8];
        let _ = (&self.0).read(&mut buf);
    }

    fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Elsewhere, a socket pair: a byte to ring, reads until empty to clear.
#[cfg(not(target_os = "linux"))]
struct Bell {
    read_end: UnixStream,
    write_end: UnixStream,
}

#[cfg(not(target_os = "linux"))]
impl Bell {
    fn new() -> std::io::Result<Self> {
        let (read_end, write_end) = pipe()?;
        Ok(Bell {
            read_end,
            write_end,
        })
    }

    fn ring(&self) {
        poke(&self.write_end);
    }

    fn clear(&self) {
        empty_pipe(&self.read_end);
    }

    fn fd(&self) -> RawFd {
        self.read_end.as_raw_fd()
    }
}

struct WakerInner {
    ready: Mutex<Vec<u64>>,
    bell: Bell,
}

impl WakerInner {
    fn notify(&self, id: u64) {
        let was_empty = {
            let mut ready = self.ready.lock().unwrap_or_else(|e| e.into_inner());
            let was_empty = ready.is_empty();
            ready.push(id);
            was_empty
        };
        if was_empty {
            self.bell.ring();
        }
    }
}

/// One wake-up descriptor for many streams (one per event loop): a stream that gets
/// items queues its id here, and the first id since the last `take_ready` writes one
/// byte. Ten thousand streams then hold ten thousand sockets, not as many pipes too.
#[pyclass(module = "tinyagent.transports._native")]
pub struct NativeWaker {
    inner: Arc<WakerInner>,
}

#[pymethods]
impl NativeWaker {
    #[new]
    fn new() -> PyResult<Self> {
        let bell = Bell::new().map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(NativeWaker {
            inner: Arc::new(WakerInner {
                ready: Mutex::new(Vec::new()),
                bell,
            }),
        })
    }

    /// The descriptor that becomes readable when a stream has items.
    fn fileno(&self) -> RawFd {
        self.inner.bell.fd()
    }

    /// The ids of the streams that got items since the last call (each may repeat).
    fn take_ready(&self) -> Vec<u64> {
        // Cleared before the ids are taken: a stream that queues its id after the take
        // rings again, so no id is left unannounced.
        self.inner.bell.clear();
        std::mem::take(&mut *self.inner.ready.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tinyagent-native")
            // The parser runs here; a payload nested to the JSON depth limit (1024) may
            // recurse once per level. 8 MiB, a main thread's stack, leaves a wide margin.
            .thread_stack_size(8 << 20)
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// What a client is built from: the timeouts, and the proxy and CA bundle that Python
/// decided (from the call's options, then the environment) for every transport alike.
#[derive(Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    connect: u128,
    read: u128,
    proxy: Option<String>,
    ca_bundle: Option<String>,
}

/// One pooled client per `ClientKey`: usually just one. The read timeout bounds every
/// socket read, the wait for the headers included, as on httpx. The client reads no
/// environment of its own (`no_proxy`): Python passes the proxy it chose.
fn client(
    connect_timeout: Duration,
    read_timeout: Duration,
    proxy: Option<String>,
    ca_bundle: Option<String>,
) -> Result<reqwest::Client, String> {
    type Clients = Mutex<HashMap<ClientKey, reqwest::Client>>;
    static CLIENTS: OnceLock<Clients> = OnceLock::new();
    let key = ClientKey {
        connect: connect_timeout.as_nanos(),
        read: read_timeout.as_nanos(),
        proxy,
        ca_bundle,
    };
    let map = CLIENTS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = map.get(&key) {
        return Ok(c.clone());
    }
    let mut builder = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .read_timeout(read_timeout)
        // A redirect is reported, not followed: a request and its key go only where the
        // model says, and a 301 or 302 would turn the POST into a GET (httpx alike).
        .redirect(reqwest::redirect::Policy::none())
        // A header folded over two lines (obsolete, but sent): read as httpx reads it.
        .http1_allow_obsolete_multiline_headers_in_responses(true)
        .no_proxy();
    if let Some(url) = &key.proxy {
        builder =
            builder.proxy(reqwest::Proxy::all(url).map_err(|e| format!("invalid proxy URL: {e}"))?);
    }
    if let Some(path) = &key.ca_bundle {
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read ca_bundle {path:?}: {e}"))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("ca_bundle {path:?} is not a PEM bundle: {e}"))?;
        if certs.is_empty() {
            return Err(format!("ca_bundle {path:?} holds no certificate"));
        }
        builder = builder.tls_built_in_root_certs(false);
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    let built = builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    map.insert(key, built.clone());
    Ok(built)
}

struct Request {
    client: reqwest::Client,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    connect_timeout: Duration,
    read_timeout: Duration,
    /// The most of a whole body (a 200 that is not a stream) read for Python.
    max_line_bytes: usize,
}

fn transport_error(e: &reqwest::Error) -> Item {
    let (kind, detail) = failure_kind(e);
    Item::Transport { kind, detail }
}

/// The parsed form of a request's URL. Parsing one (IDNA included) costs microseconds,
/// on every request; a model's calls all go to one URL, so the last few are kept.
fn parsed_url(url: &str) -> Option<reqwest::Url> {
    type Urls = Mutex<HashMap<String, reqwest::Url>>;
    static URLS: OnceLock<Urls> = OnceLock::new();
    let urls = URLS.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(u) = urls.lock().unwrap_or_else(|e| e.into_inner()).get(url) {
        return Some(u.clone());
    }
    let parsed = reqwest::Url::parse(url).ok()?;
    let mut urls = urls.lock().unwrap_or_else(|e| e.into_inner());
    if urls.len() >= 64 {
        urls.clear(); // many URLs in turn: a bounded cache, not a growing one
    }
    urls.insert(url.to_owned(), parsed.clone());
    Some(parsed)
}

/// A future's output, or `Err` if it panicked (`catch_unwind` for a future): the
/// request task reports a panic as a final item itself, with no watcher task.
async fn catch_panic<F: std::future::Future>(future: F) -> Result<F::Output, ()> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(std::task::Poll::Ready(out)) => std::task::Poll::Ready(Ok(out)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(_) => std::task::Poll::Ready(Err(())),
        }
    })
    .await
}

/// The request task: `run`, and if it panics, the blocks parsed so far ended and a
/// transport error, so that Python gets a final item rather than waiting forever.
async fn run_guarded(shared: Arc<Shared>, req: Request) {
    if catch_panic(run(shared.clone(), req)).await.is_err() {
        let mut evs = Vec::new();
        shared
            .parser
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .close(&mut evs);
        let mut items: Vec<Item> = evs.into_iter().map(Item::Ev).collect();
        items.push(Item::Transport {
            kind: "other",
            detail: "the native core panicked".into(),
        });
        shared.push(items);
    }
}

async fn run(shared: Arc<Shared>, req: Request) {
    let builder = match parsed_url(&req.url) {
        Some(url) => req.client.post(url),
        None => req.client.post(&req.url), // reqwest says what is wrong with it
    };
    let mut builder = builder.body(req.body);
    for (k, v) in &req.headers {
        builder = builder.header(k, v);
    }
    // The client's read timeout bounds the wait for headers; this outer bound only
    // backs it up (connect, write and read together).
    let response =
        match tokio::time::timeout(req.connect_timeout + req.read_timeout, builder.send()).await {
            Err(_) => {
                shared.push(vec![Item::Transport {
                    kind: "read_timeout",
                    detail: String::new(),
                }]);
                return;
            }
            Ok(Err(e)) => {
                // No response began: a connection that closed now is `no_response`
                // (e.g. a server's idle keep-alive connection), as on httpx.
                let mut item = transport_error(&e);
                if let Item::Transport { kind, .. } = &mut item {
                    if hyper_error(&e).is_some_and(hyper::Error::is_parse) {
                        *kind = "bad_response"; // an answer came, but not as HTTP
                    } else if *kind == "closed" || (*kind == "other" && !e.is_builder()) {
                        *kind = "no_response";
                    }
                }
                shared.push(vec![item]);
                return;
            }
            Ok(Ok(r)) => r,
        };
    if head_size(&response) > MAX_HEAD_BYTES {
        shared.push(vec![Item::Transport {
            kind: "bad_response",
            detail: format!("a response head over {MAX_HEAD_BYTES} bytes"),
        }]);
        return;
    }
    let status = response.status().as_u16();
    if status >= 300 {
        // An error, or a redirect: the client follows none (as on httpx).
        let headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let mut response = response;
        let body = read_body(&mut response, ERROR_BODY_LIMIT, req.read_timeout).await;
        shared.push(vec![Item::HttpError {
            status,
            body,
            headers,
        }]);
        return;
    }
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut response = response;
    if is_whole_body(status, &content_type) {
        let body = read_body(&mut response, req.max_line_bytes, req.read_timeout).await;
        shared.push(vec![
            Item::Started,
            Item::WholeBody {
                status,
                content_type,
                body,
            },
        ]);
        return;
    }
    shared.push_as(vec![Item::Started], false);
    loop {
        let read = tokio::time::timeout(req.read_timeout, response.chunk()).await;
        // Parse and queue under the parser lock, so an abort sees every item first.
        let step = {
            let mut parser = shared.parser.lock().unwrap_or_else(|e| e.into_inner());
            if parser.finished() {
                None // aborted from Python meanwhile
            } else {
                let mut evs = Vec::new();
                let mut tail: Option<Item> = None;
                match read {
                    Err(_) => {
                        parser.close(&mut evs);
                        tail = Some(Item::Transport {
                            kind: "read_timeout",
                            detail: String::new(),
                        });
                    }
                    // The body ended whole but its compressed stream did not: the
                    // decoder gave all there was (httpx's does the same, silently),
                    // and the parser says what is missing.
                    Ok(Err(e)) if compressed_stream_cut(&e) => parser.end_of_stream(&mut evs),
                    Ok(Err(e)) => {
                        parser.close(&mut evs);
                        let mut item = transport_error(&e);
                        if let Item::Transport { kind, .. } = &mut item {
                            if *kind == "other" {
                                *kind = "closed"; // a body that broke off mid-stream
                            }
                        }
                        tail = Some(item);
                    }
                    Ok(Ok(None)) => parser.end_of_stream(&mut evs),
                    Ok(Ok(Some(bytes))) => parser.feed(&bytes, &mut evs),
                }
                let done = parser.finished();
                let clean_end = done && tail.is_none();
                let urgent = done || tail.is_some(); // wakes even a quiet stream
                let mut items: Vec<Item> = evs.into_iter().map(Item::Ev).collect();
                if let Some(t) = tail {
                    items.push(t);
                }
                shared.push_as(items, urgent);
                Some((done, clean_end))
            }
        };
        let Some((done, clean_end)) = step else {
            return;
        };
        shared.wait_for_space().await;
        if clean_end {
            // Read the little that follows the last event, so the connection can go
            // back to the pool; a server that keeps talking just loses it. Python has
            // its final event already and does not wait for this.
            let mut extra = 0usize;
            let _ = tokio::time::timeout(DRAIN_TIME, async {
                while let Ok(Some(b)) = response.chunk().await {
                    extra += b.len();
                    if extra > DRAIN_LIMIT {
                        break;
                    }
                }
            })
            .await;
        }
        if done {
            return;
        }
    }
}

/// One streaming request running on the native transport.
#[pyclass(module = "tinyagent.transports._native")]
pub struct NativeStream {
    shared: Arc<Shared>,
    read_end: Option<UnixStream>,
    is_closed: bool,
    task: Option<AbortHandle>,
    conv: Converter,
    /// Whether the last `drain` returned any `Signal` (so Python needs to look at items).
    #[pyo3(get)]
    control: bool,
}

/// A wake-up channel: Python waits for the read end to become readable; the core
/// writes a byte to the other. Both ends non-blocking, close-on-exec (std's default).
fn pipe() -> std::io::Result<(UnixStream, UnixStream)> {
    let (read_end, write_end) = UnixStream::pair()?;
    read_end.set_nonblocking(true)?;
    write_end.set_nonblocking(true)?;
    Ok((read_end, write_end))
}

#[pymethods]
impl NativeStream {
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (url, headers, body, connect_timeout, read_timeout, max_line_bytes, max_argument_bytes, format = "openai-chat", proxy = None, ca_bundle = None, think_tags = false, waker = None, stream_id = 0, deltas = true))]
    fn new(
        url: String,
        headers: Vec<(String, String)>,
        body: &[u8],
        connect_timeout: f64,
        read_timeout: f64,
        max_line_bytes: usize,
        max_argument_bytes: usize,
        format: &str,
        proxy: Option<String>,
        ca_bundle: Option<String>,
        think_tags: bool,
        waker: Option<PyRef<'_, NativeWaker>>,
        stream_id: u64,
        deltas: bool,
    ) -> PyResult<Self> {
        guarded(|| {
            let parser = make_parser(format, max_line_bytes, max_argument_bytes, think_tags)?;
            let connect_timeout = Duration::from_secs_f64(connect_timeout.max(0.001));
            let read_timeout = Duration::from_secs_f64(read_timeout.max(0.001));
            let client = client(connect_timeout, read_timeout, proxy, ca_bundle)
                .map_err(PyValueError::new_err)?;
            let (read_end, wake) = match &waker {
                Some(w) => (None, Wake::Shared(w.inner.clone(), stream_id)),
                None => {
                    let (r, w) = pipe().map_err(|e| PyOSError::new_err(e.to_string()))?;
                    (Some(r), Wake::Own(w))
                }
            };
            let shared = Arc::new(Shared {
                queue: Mutex::new(Queue::default()),
                quiet: !deltas,
                space: tokio::sync::Notify::new(),
                wake,
                parser: Mutex::new(parser),
            });
            let req = Request {
                client,
                url,
                headers,
                body: body.to_vec(), // one memcpy (a Vec<u8> argument would go byte by byte)
                connect_timeout,
                read_timeout,
                max_line_bytes,
            };
            let abort = runtime()
                .spawn(run_guarded(shared.clone(), req))
                .abort_handle();
            Ok(NativeStream {
                shared,
                read_end,
                is_closed: false,
                task: Some(abort),
                conv: Converter::new(deltas),
                control: false,
            })
        })
    }

    /// The descriptor that becomes readable when items are queued (a stream made with a
    /// shared waker has none: the waker's descriptor stands for it).
    fn fileno(&self) -> PyResult<RawFd> {
        self.read_end
            .as_ref()
            .map(|f| f.as_raw_fd())
            .ok_or_else(|| PyOSError::new_err("stream is closed or has a shared waker"))
    }

    /// Take every queued item: event objects, and a `Signal` for the rest (`started`,
    /// `http_error`, `transport`, and the parser's `finish`/`fail`/`closed`).
    fn drain<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        guarded(|| {
            if let Some(fd) = &self.read_end {
                empty_pipe(fd);
            }
            let items = self.shared.take();
            self.shared.space.notify_one();
            let out = PyList::empty(py);
            let mut evs = Vec::new();
            self.control = false;
            for item in items {
                match item {
                    Item::Ev(ev) => evs.push(ev),
                    other => {
                        self.control = true;
                        self.conv.convert(py, std::mem::take(&mut evs), &out)?;
                        let signal = match other {
                            Item::Started => Signal::new("started"),
                            Item::WholeBody {
                                status,
                                content_type,
                                body,
                            } => Signal {
                                status: Some(status),
                                detail: Some(PyBytes::new(py, &body).into_any().unbind()),
                                content_type: Some(content_type),
                                ..Signal::new("whole_body")
                            },
                            Item::HttpError {
                                status,
                                body,
                                headers,
                            } => Signal {
                                status: Some(status),
                                detail: Some(PyBytes::new(py, &body).into_any().unbind()),
                                headers: Some(headers.into_py_dict(py)?.unbind()),
                                ..Signal::new("http_error")
                            },
                            Item::Transport { kind, detail } => Signal {
                                code: Some(kind),
                                detail: Some(PyString::new(py, &detail).into_any().unbind()),
                                ..Signal::new("transport")
                            },
                            Item::Ev(_) => unreachable!(),
                        };
                        let t = Bound::new(py, signal)?.into_any();
                        out.append(t)?;
                    }
                }
            }
            if evs
                .last()
                .is_some_and(|e| matches!(e, Ev::Finish(_) | Ev::Fail(..) | Ev::Closed(_)))
            {
                self.control = true;
            }
            self.conv.convert(py, evs, &out)?;
            Ok(out)
        })
    }

    /// Stop now and keep what arrived: cancel the request, then return the queued items
    /// and the parser's end events (ending with a `closed` `Signal` unless the
    /// reply had already finished).
    fn abort<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        guarded(|| {
            self.cancel();
            let mut evs = Vec::new();
            {
                let mut parser = self.shared.parser.lock().unwrap_or_else(|e| e.into_inner());
                parser.close(&mut evs);
            }
            let out = self.drain(py)?;
            self.conv.convert(py, evs, &out)?;
            Ok(out)
        })
    }

    /// Stop the request now: aborts the task, which drops the connection.
    fn cancel(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Release the descriptor. A stream whose reply finished is left to read its last
    /// bytes (at most one second) so its connection returns to the pool; any other is
    /// cancelled.
    fn close(&mut self) {
        let finished = self
            .shared
            .parser
            .lock()
            .map(|p| p.finished())
            .unwrap_or(true);
        if !finished {
            self.cancel();
        } else {
            self.task = None; // detach: it ends by itself
        }
        self.read_end = None;
        self.is_closed = true;
    }

    #[getter]
    fn closed(&self) -> bool {
        self.is_closed
    }
}

impl Drop for NativeStream {
    fn drop(&mut self) {
        self.cancel(); // a no-op after close() detached a finished stream
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_panic_reports_a_panic_and_passes_an_output() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let ok = rt.block_on(catch_panic(async { 7 }));
        assert_eq!(ok, Ok(7));
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {})); // keep the test's output clean
        let failed = rt.block_on(catch_panic(async {
            tokio::task::yield_now().await; // a panic after a pending poll, too
            panic!("boom");
        }));
        std::panic::set_hook(hook);
        assert_eq!(failed, Err(()));
    }

    #[test]
    fn parsed_urls_are_kept_and_bad_ones_are_not() {
        let a = parsed_url("http://127.0.0.1:8000/v1/chat/completions").unwrap();
        assert_eq!(a.as_str(), "http://127.0.0.1:8000/v1/chat/completions");
        let b = parsed_url("http://127.0.0.1:8000/v1/chat/completions").unwrap();
        assert_eq!(a, b);
        assert!(parsed_url("not a url").is_none());
        for i in 0..200 {
            let u = format!("http://h{i}.example/x");
            assert_eq!(parsed_url(&u).unwrap().as_str(), u);
        }
    }
}
