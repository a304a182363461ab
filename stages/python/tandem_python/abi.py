"""The ctypes binding of the stage SDK's C ABI (stages/sdk/include/tandem_stage.h,
libtandem_stage.so.1): a Python handler served by the C++ SDK's server, over HTTP and over
the shared-memory channel tandem hands a `transport: shm` stage.

    from tandem_python import abi

    def handle(request):                      # called on the server's threads, GIL held
        return 200, request.body.upper(), request.content_type or None, None

    server = abi.Server(handle)               # binds SAGEMAKER_BIND_TO_PORT (OSError if not)
    raise SystemExit(server.run())            # until SIGTERM/SIGINT; 0 after a clean drain

Per request the library calls one ctypes callback; the request's six (pointer, size) pairs
are read with one struct.unpack, each non-empty field copied with ctypes.string_at, and the
answer handed back with one call of tandem_stage_respond (which copies it).
"""
import ctypes
import os
import signal
import struct
import sys
import threading
import traceback
from pathlib import Path
from typing import Callable, NamedTuple, Optional

ABI_VERSION = 1
LIBRARY_NAME = "libtandem_stage.so.1"


class Request(NamedTuple):
    """One invocation, copied out of the library's request (which lives only during the
    call). Header values are decoded as ISO-8859-1 (latin-1), HTTP's own header charset:
    decoding never fails and `value.encode("latin-1")` gives back the exact bytes received.
    Absent headers are ""."""
    body: bytes
    content_type: str
    accept: str
    custom_attributes: str
    inference_id: str
    traceparent: str


_lib: Optional[ctypes.CDLL] = None
_lib_lock = threading.Lock()

# tandem_stage_request: six tandem_stage_bytes, each a (const char*, size_t) pair.
_REQUEST_LAYOUT = struct.Struct("@" + "PN" * 6)
_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
_PING = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_ERROR_SIZE = 1024
# A thread of the library's has no Python thread state, so ctypes creates one for every
# callback and destroys it after; measured here, that is ~30-40 us of a ~130 us HTTP request.
# One more PyGILState_Ensure, never released, on a thread's first request keeps its state (and
# this threading.local) for the thread's life.
_thread = threading.local()


def _candidates() -> list[str]:
    """$TANDEM_STAGE_LIBRARY; else lib/libtandem_stage.so.1 in each folder above this file
    (an installed <prefix>/lib beside the package's <prefix>/...; a build tree's <build>/lib
    when the package is copied under <build>); else the bare name, which the dynamic loader
    looks up on its own path (LD_LIBRARY_PATH, ld.so.cache)."""
    configured = os.environ.get("TANDEM_STAGE_LIBRARY")
    if configured:
        return [configured]
    found = [str(folder / "lib" / LIBRARY_NAME) for folder in Path(__file__).resolve().parents
             if (folder / "lib" / LIBRARY_NAME).is_file()]
    return found + [LIBRARY_NAME]


def load_library(path: Optional[str] = None) -> None:
    """Loads the library (once; a second call with no path keeps the first). `path` defaults
    to $TANDEM_STAGE_LIBRARY, else the search in _candidates(). Raises OSError saying where it
    looked, or that the library speaks another ABI version."""
    global _lib
    with _lib_lock:
        if _lib is not None and path is None:
            return
        tried = []
        lib = None
        for candidate in ([path] if path else _candidates()):
            try:
                lib = ctypes.CDLL(candidate)
                break
            except OSError as error:
                tried.append(f"{candidate}: {error}")
        if lib is None:
            raise OSError("cannot load the tandem stage library (set TANDEM_STAGE_LIBRARY): "
                          + "; ".join(tried))
        lib.tandem_stage_abi_version.restype = ctypes.c_int
        lib.tandem_stage_abi_version.argtypes = []
        version = lib.tandem_stage_abi_version()
        if version != ABI_VERSION:
            raise OSError(f"{lib._name} speaks C ABI version {version}; this binding speaks "
                          f"{ABI_VERSION}")
        lib.tandem_stage_respond.restype = None
        lib.tandem_stage_respond.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p,
                                             ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p]
        lib.tandem_stage_server_new.restype = ctypes.c_void_p
        lib.tandem_stage_server_new.argtypes = [_HANDLER, _PING, ctypes.c_void_p, ctypes.c_uint,
                                                ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
        for name in ("tandem_stage_server_port", "tandem_stage_server_run"):
            getattr(lib, name).restype = ctypes.c_int
            getattr(lib, name).argtypes = [ctypes.c_void_p]
        for name in ("tandem_stage_server_stop", "tandem_stage_server_free"):
            getattr(lib, name).restype = None
            getattr(lib, name).argtypes = [ctypes.c_void_p]
        lib.tandem_stage_shm_fail_taken.restype = ctypes.c_int
        lib.tandem_stage_shm_fail_taken.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                                    ctypes.c_char_p, ctypes.c_size_t]
        _lib = lib


def _library() -> ctypes.CDLL:
    if _lib is None:
        load_library()
    return _lib


def _status(status) -> int:
    """An answer's status as the C ABI takes it: ctypes would truncate a large int silently."""
    if type(status) is not int or not 200 <= status <= 599:
        raise ValueError(f"a handler answered the status {status!r}; expected 200-599")
    return status


def _body(payload) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    raise TypeError(f"a handler answered a body of type {type(payload).__name__}; expected "
                    "bytes or str")


def _header(value) -> Optional[bytes]:
    """A header value for the C ABI (NUL-terminated, so a NUL inside would cut it)."""
    if value is None:
        return None
    raw = value.encode("latin-1") if isinstance(value, str) else None
    if raw is None or b"\0" in raw or b"\r" in raw or b"\n" in raw:
        raise ValueError(f"a handler answered the header value {value!r}; expected text with "
                         "no NUL, CR or LF")
    return raw


def _make_handler(handle: Callable[[Request], tuple], lib: ctypes.CDLL):
    """The one ctypes callback per request. Never raises into C: an exception (in `handle`, or
    in an answer that is not (status, bytes, str|None, str|None)) answers 500 text/plain and
    prints its traceback to stderr, the stage's log."""
    respond = lib.tandem_stage_respond
    unpack = _REQUEST_LAYOUT.unpack
    layout_size = _REQUEST_LAYOUT.size
    string_at = ctypes.string_at
    new_request = tuple.__new__
    keep_thread_state = ctypes.pythonapi.PyGILState_Ensure

    def text(address, size):
        return string_at(address, size).decode("latin-1") if size else ""

    def on_request(_user_data, request_address, response):
        if not getattr(_thread, "kept", False):
            keep_thread_state()
            _thread.kept = True
        try:
            (body, body_size, ct, ct_size, accept, accept_size, attributes, attributes_size,
             inference_id, id_size, traceparent, tp_size) = unpack(
                 string_at(request_address, layout_size))
            request = new_request(Request, (
                string_at(body, body_size) if body_size else b"",
                text(ct, ct_size), text(accept, accept_size),
                text(attributes, attributes_size), text(inference_id, id_size),
                text(traceparent, tp_size)))
            status, payload, content_type, custom_attributes = handle(request)
            body = _body(payload)
            respond(response, _status(status), _header(content_type), body, len(body),
                    _header(custom_attributes))
        except BaseException as error:  # noqa: B902 - nothing may unwind into the C++ server
            traceback.print_exc(file=sys.stderr)
            message = f"stage handler failed: {type(error).__name__}: {error}".encode(
                "utf-8", "replace")
            respond(response, 500, b"text/plain", message, len(message), None)

    return _HANDLER(on_request)


def _make_ping(ping: Optional[Callable[[], bool]]):
    if ping is None:
        return _PING()  # NULL: always healthy

    def on_ping(_user_data):
        try:
            return 1 if ping() else 0
        except BaseException:  # noqa: B902 - unhealthy, and never into C
            traceback.print_exc(file=sys.stderr)
            return 0

    return _PING(on_ping)


class Server:
    """The SDK's server around `handle`. Binds and listens at once (options from the
    environment, like every SDK stage: SAGEMAKER_BIND_TO_PORT, TANDEM_STAGE_HOST,
    TANDEM_STAGE_THREADS, TANDEM_SHM_*); raises OSError(message) if it cannot.

    handle(request) returns (status, body, content_type, custom_attributes): an int 200-599,
    bytes, and two optional str (None sends no header). It runs on the server's threads
    (`threads`, else TANDEM_STAGE_THREADS, else 16), one request each, taking the GIL.
    `ping()` answers GET /ping: true is healthy (None: always). `reuse_port` lets several
    processes listen on one port (SO_REUSEPORT)."""

    def __init__(self, handle: Callable[[Request], tuple], *,
                 ping: Optional[Callable[[], bool]] = None, threads: int = 0,
                 reuse_port: bool = False):
        self._server = None
        self._drained = True
        self._lib = _library()
        # The callbacks are kept alive as long as the server that calls them.
        self._handler = _make_handler(handle, self._lib)
        self._ping = _make_ping(ping)
        error = ctypes.create_string_buffer(_ERROR_SIZE)
        server = self._lib.tandem_stage_server_new(self._handler, self._ping, None, threads,
                                                   1 if reuse_port else 0, error, _ERROR_SIZE)
        if not server:
            raise OSError(error.value.decode("utf-8", "replace"))
        self._server = server
        self.port: int = self._lib.tandem_stage_server_port(server)

    def run(self) -> int:
        """Serves until SIGTERM/SIGINT or stop(), then drains; returns 0 when every request
        finished, 1 when a handler still ran at the drain timeout (then exit the process at
        once: os._exit). The GIL is released while the server waits; Python's own handlers
        of SIGTERM and SIGINT are put back afterwards (from the main thread)."""
        main = threading.current_thread() is threading.main_thread()
        saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)} if main else {}
        try:
            status = self._lib.tandem_stage_server_run(self._server)
        finally:
            for number, handler in saved.items():
                if handler is not None:
                    signal.signal(number, handler)
        self._drained = status == 0
        return status

    def stop(self) -> None:
        """Makes run() drain and return. Thread-safe; not from a signal handler's C level
        (a Python signal handler is fine: it runs between bytecodes)."""
        if self._server:
            self._lib.tandem_stage_server_stop(self._server)

    def close(self) -> None:
        """Frees the server (after run() returned, or instead of running it). After a drain
        that timed out it does nothing: a handler still runs, and the process should exit."""
        if self._server and self._drained:
            self._lib.tandem_stage_server_free(self._server)
        self._server = None

    def __del__(self):
        self.close()


def fail_taken(pid: int, status: int, message: str) -> int:
    """In the parent of worker processes sharing the inherited shared-memory channel, once
    worker `pid` has exited: answers every request it had claimed and not answered with
    `status` and the text/plain `message`. Returns how many; raises OSError when there is no
    channel (TANDEM_SHM_* unset) or it cannot be mapped."""
    error = ctypes.create_string_buffer(_ERROR_SIZE)
    completed = _library().tandem_stage_shm_fail_taken(pid, status, message.encode("utf-8"),
                                                       error, _ERROR_SIZE)
    if completed < 0:
        raise OSError(error.value.decode("utf-8", "replace"))
    return completed
