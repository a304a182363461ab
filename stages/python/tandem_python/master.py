"""`tandem-python serve`: the master process and its workers.

The master reads the stage's environment, prepares the code and the model once (code.py), and
forks ``SAGEMAKER_MODEL_SERVER_WORKERS`` workers. Each worker imports the entry point and loads
the model with ``model_fn``, then tells the master; only when every worker has loaded it do they
start listening (several workers share the stage's port with SO_REUSEPORT, and serve the
inherited shared-memory channel alike), so ``/ping`` answers 200 only once the whole stage is
ready. A worker that fails to load stops the stage with its one-line error; a worker that dies
later is replaced, and requests it had taken from the shared-memory channel are answered 500 at
once instead of waiting for their deadline. ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` bounds one
request: a worker busy longer is killed and replaced, as gunicorn does. SIGTERM drains: the
workers stop accepting, finish what they have, and exit (tandem signals the whole process
group; the master tells its workers through a pipe, so a worker never gets a second signal).
"""

import ctypes
import mmap
import os
import select
import signal
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

from . import code

FRAMEWORKS = ("sklearn", "xgboost", "pytorch", "none")
MAX_WORKERS = 64
_PR_SET_PDEATHSIG = 1
# A replacement that dies this often within a minute is a crash loop: the stage exits and
# tandem's supervisor restarts it with its backoff.
_CRASH_LOOP_DEATHS = 5


def log(message: str) -> None:
    print(f"tandem-python: {message}", file=sys.stderr, flush=True)


@dataclass
class Settings:
    framework: str
    program: str
    workers: int
    timeout: float
    default_accept: str
    log_level: int


def _integer(env, name: str, default: int, low: int, high: int, errors: List[str]) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        errors.append(f"{name}: expected a whole number {low}-{high}, got \"{text}\"")
        return default
    return value


def _log_level(env, errors: List[str]) -> int:
    import logging
    text = env.get("SAGEMAKER_CONTAINER_LOG_LEVEL", "").strip()
    if not text:
        return logging.INFO
    if text.lstrip("-").isdigit():
        return int(text)
    level = logging.getLevelName(text.upper())
    if isinstance(level, int):
        return level
    errors.append("SAGEMAKER_CONTAINER_LOG_LEVEL: expected a logging level (20, INFO, DEBUG...), "
                  f"got \"{text}\"")
    return logging.INFO


def read_settings(env) -> Settings:
    """Every invalid variable is reported at once, each by name."""
    errors: List[str] = []
    framework = env.get("TANDEM_FRAMEWORK", "").strip()
    if framework not in FRAMEWORKS:
        errors.append(
            f"TANDEM_FRAMEWORK: expected one of {', '.join(FRAMEWORKS)} (whose container's "
            f"default handlers apply), got \"{framework}\"" if framework else
            f"TANDEM_FRAMEWORK is not set: say whose container this stage replaces, one of "
            f"{', '.join(FRAMEWORKS)} (docs/python.md)")
    program = env.get("SAGEMAKER_PROGRAM", "").strip()
    if not program:
        if framework == "pytorch":
            program = "inference.py"  # the inference toolkit's default
        elif framework in FRAMEWORKS:
            errors.append("SAGEMAKER_PROGRAM is not set: name the entry-point script "
                          "(inference.py), as the model's container definition does"
                          + (" (for XGBoost's built-in algorithm without a script, use the "
                             "tandem-xgboost stage)" if framework == "xgboost" else ""))
    workers = _integer(env, "SAGEMAKER_MODEL_SERVER_WORKERS", 1, 1, MAX_WORKERS, errors)
    timeout = _integer(env, "SAGEMAKER_MODEL_SERVER_TIMEOUT", 60, 1, 86400, errors)
    level = _log_level(env, errors)
    accept = env.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "").strip() or "application/json"
    if errors:
        raise code.SetupError("; ".join(errors))
    return Settings(framework, program, workers, float(timeout), accept, level)


class _Busy:
    """When each worker started the request it is running (monotonic seconds; 0: idle), in
    memory shared by the master and the workers."""

    def __init__(self):
        self._map = mmap.mmap(-1, 8 * MAX_WORKERS)
        self._values = (ctypes.c_double * MAX_WORKERS).from_buffer(self._map)

    def set(self, index: int, value: float) -> None:
        self._values[index] = value

    def get(self, index: int) -> float:
        return self._values[index]


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _worker(index: int, settings: Settings, prepared: code.Prepared, ready_fd: int, go_fd: int,
            busy: _Busy) -> int:
    """Runs in the forked child; returns its exit status."""
    _die_with_parent()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    sys.stdout.reconfigure(line_buffering=True)

    def report(line: str) -> None:
        os.write(ready_fd, (line.replace("\n", " ") + "\n").encode("utf-8", "replace"))

    import logging
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    from .service import Invocation, Service, StartupError
    try:
        service = Service.load(program=settings.program, code_dir=prepared.code_dir,
                               model_dir=prepared.model_dir or "", framework=settings.framework,
                               default_accept=settings.default_accept)
    except StartupError as error:
        report(f"error {error}")
        return 3
    except BaseException as error:  # a bug of ours: still one line, then the traceback
        import traceback
        traceback.print_exc()
        report(f"error tandem-python could not load the entry point: "
               f"{type(error).__name__}: {error}")
        return 3
    report("ok")
    if os.read(go_fd, 1) != b"g":
        return 0  # the master is gone or stopping

    from . import abi

    # The SDK serves HTTP and the shm channel on threads of their own: one request at a time
    # all the same, as in a synchronous worker (the busy clock and a PyTorch context are the
    # worker's, and a script that releases the GIL must not run twice at once).
    import threading
    one_at_a_time = threading.Lock()

    def handle(request):
        with one_at_a_time:
            return invoke(request)

    def invoke(request):
        busy.set(index, time.monotonic())
        try:
            answer = service.invoke(Invocation(
                body=request.body, content_type=request.content_type, accept=request.accept,
                custom_attributes=request.custom_attributes, inference_id=request.inference_id))
        finally:
            busy.set(index, 0.0)
        return answer.status, answer.body, answer.content_type, answer.custom_attributes

    # HTTP: the SDK's threads (TANDEM_STAGE_THREADS, 16), so that /ping is answered while a
    # request runs and others wait for the lock; shared memory: one thread, so that a worker
    # takes one slot at a time and leaves the rest to idle peers.
    os.environ["TANDEM_STAGE_SHM_THREADS"] = "1"
    try:
        server = abi.Server(handle, threads=0, reuse_port=settings.workers > 1)
    except OSError as error:
        log(f"worker {index}: {error}")
        return 1

    # The master says "stop" on this pipe (or closes it by dying). tandem signals the stage's
    # whole process group, so the master never forwards SIGTERM: a second signal would end a
    # worker without draining.
    def stop_when_told():
        try:
            os.read(go_fd, 1)
        finally:
            server.stop()

    threading.Thread(target=stop_when_told, name="stop", daemon=True).start()
    return server.run()


@dataclass
class _Child:
    index: int
    pid: int
    ready_r: int
    go_w: int
    started: float
    buffer: bytes = b""
    ready: bool = False


class Master:
    def __init__(self, settings: Settings, prepared: code.Prepared):
        self.settings = settings
        self.prepared = prepared
        self.busy = _Busy()
        self.children: Dict[int, _Child] = {}
        self.deaths: List[float] = []
        self.stopping = False
        self.serving = False
        self.shm = bool(os.environ.get("TANDEM_SHM_FD"))

    # -- children ----------------------------------------------------------------------------
    def spawn(self, index: int) -> None:
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        self.busy.set(index, 0.0)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                os.close(ready_r)
                os.close(go_w)
                for child in self.children.values():
                    os.close(child.ready_r)
                    os.close(child.go_w)
                status = _worker(index, self.settings, self.prepared, ready_w, go_r, self.busy)
            except BaseException:  # never return into the master's code
                import traceback
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)
        os.close(ready_w)
        os.close(go_r)
        os.set_blocking(ready_r, False)
        self.children[pid] = _Child(index, pid, ready_r, go_w, time.monotonic())

    def release(self, child: _Child) -> None:
        for fd in (child.ready_r, child.go_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def go(self, child: _Child) -> None:
        try:
            os.write(child.go_w, b"g")
        except OSError:
            pass

    def tell_all_stop(self) -> None:
        for child in self.children.values():
            try:
                os.write(child.go_w, b"s")
            except OSError:
                pass

    def kill_all(self, sig: int) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    # -- events ------------------------------------------------------------------------------
    def read_reports(self, fds) -> Optional[str]:
        """Reads workers' start-up reports; returns a fatal error line, if any."""
        for child in list(self.children.values()):
            if child.ready or child.ready_r not in fds:
                continue
            try:
                chunk = os.read(child.ready_r, 4096)
            except BlockingIOError:
                continue
            child.buffer += chunk
            if b"\n" not in child.buffer and chunk:
                continue
            line = child.buffer.split(b"\n", 1)[0].decode("utf-8", "replace")
            if line == "ok":
                child.ready = True
                if self.serving:
                    self.go(child)
            elif line.startswith("error ") and not self.serving:
                return line[len("error "):]
        if not self.serving and self.children and all(c.ready for c in self.children.values()):
            self.serving = True
            for child in self.children.values():
                self.go(child)
            log(f"{len(self.children)} worker(s) loaded the model; serving "
                f"(framework {self.settings.framework}, {self.settings.program})")
        return None

    def reap(self) -> Optional[str]:
        """Collects dead workers; replaces the ones that died while serving. Returns a fatal
        error line when the stage must stop."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return None
            if pid == 0:
                return None
            child = self.children.pop(pid, None)
            if child is None:
                continue  # a process the entry point started
            report = self.last_report(child) if not child.ready else ""
            self.release(child)
            how = (f"signal {signal.Signals(os.WTERMSIG(status)).name}"
                   if os.WIFSIGNALED(status) else f"status {os.WEXITSTATUS(status)}")
            if self.stopping:
                continue
            error = report[len("error "):] if report.startswith("error ") else (
                f"worker {child.index} exited ({how}) while loading the model; see its lines "
                "above")
            if not self.serving:
                return error  # the stage never served: its start-up failed
            if child.ready:
                self.fail_taken(pid, f"the worker serving this request (pid {pid}) exited "
                                f"({how}) before answering; tandem-python started a new one")
            else:
                log(f"a new worker {child.index} could not load the model: {error}")
            now = time.monotonic()
            self.deaths = [t for t in self.deaths if now - t < 60] + [now]
            if len(self.deaths) >= _CRASH_LOOP_DEATHS:
                return (f"{len(self.deaths)} workers died within a minute (the last, pid {pid}, "
                        f"{how}); stopping the stage")
            log(f"worker {child.index} (pid {pid}) exited ({how}); starting a new one")
            self.spawn(child.index)

    @staticmethod
    def last_report(child: _Child) -> str:
        """What a dead worker wrote on its report pipe and the master has not read yet (all of
        it is there: the writer is gone, so the read ends at end-of-file)."""
        data = child.buffer
        try:
            while chunk := os.read(child.ready_r, 4096):
                data += chunk
        except (BlockingIOError, OSError):
            pass
        return data.split(b"\n", 1)[0].decode("utf-8", "replace")

    def fail_taken(self, pid: int, message: str) -> None:
        if not self.shm:
            return
        try:
            from . import abi
            failed = abi.fail_taken(pid, 500, message)
            if failed:
                log(f"answered {failed} request(s) worker pid {pid} had taken: 500")
        except OSError as error:
            log(f"could not answer the requests worker pid {pid} had taken: {error}")

    def check_timeouts(self) -> None:
        now = time.monotonic()
        for child in self.children.values():
            started = self.busy.get(child.index)
            if child.ready and started and now - started > self.settings.timeout:
                log(f"worker {child.index} (pid {child.pid}) has run one request for more than "
                    f"SAGEMAKER_MODEL_SERVER_TIMEOUT={self.settings.timeout:g} s; killing it")
                self.busy.set(child.index, 0.0)
                try:
                    os.kill(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> int:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        requested = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda s, _f: requested.append(s))
        signal.signal(signal.SIGCHLD, lambda _s, _f: None)
        for index in range(self.settings.workers):
            self.spawn(index)
        drain_deadline = None
        status = 0
        while self.children or not self.stopping:
            fds = [wake_r] + [c.ready_r for c in self.children.values() if not c.ready]
            readable, _, _ = select.select(fds, [], [], 0.25)
            if wake_r in readable:
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            if requested and not self.stopping:
                self.stopping = True
                log(f"received {signal.Signals(requested[0]).name}, draining the workers")
                self.tell_all_stop()
                drain_deadline = time.monotonic() + 25
            fatal = self.read_reports(readable)
            fatal = fatal or self.reap()
            if fatal and not self.stopping:
                log(fatal)
                self.stopping = True
                status = 1
                if not self.serving:
                    self.kill_all(signal.SIGKILL)  # nothing was served: nothing to drain
                    self.wait_all()
                    return status
                self.tell_all_stop()  # the healthy workers finish what they have
                drain_deadline = time.monotonic() + 25
            if not self.stopping:
                self.check_timeouts()
            elif drain_deadline and time.monotonic() > drain_deadline:
                log("workers still busy after 25 s; killing them")
                self.kill_all(signal.SIGKILL)
                drain_deadline = None
        return status

    def wait_all(self) -> None:
        for pid in list(self.children):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            self.release(self.children.pop(pid))


class _Stopped(BaseException):
    """SIGTERM or SIGINT while the code and model are being prepared."""


def _stop_preparing(number, _frame):
    raise _Stopped(signal.Signals(number).name)


def serve(env=None) -> int:
    env = os.environ if env is None else env
    # Until the master's loop takes over, a signal unwinds the preparation, so that its
    # private folder is removed and a `tandem fetch` it runs is killed (subprocess.run does).
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, _stop_preparing)
    prepared = None
    try:
        settings = read_settings(env)
        prepared = code.prepare(env, settings.framework)
        return Master(settings, prepared).run()
    except code.SetupError as error:
        log(str(error))
        return 1
    except _Stopped as stopped:
        log(f"received {stopped}, before serving; stopping")
        return 0
    finally:
        if prepared and prepared.scratch:
            import shutil
            shutil.rmtree(prepared.scratch, ignore_errors=True)
