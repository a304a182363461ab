"""A Python stage of two worker processes sharing one port and one shared-memory channel
through the C ABI, for test_abi.py: "die" makes the worker that claimed it exit; the parent
reaps it and, unless ABI_WORKERS_NO_FAIL is set, fails the requests it held
(abi.fail_taken). Other bodies are answered with the worker's pid."""
import os
import signal
import sys

from tandem_python import abi


def handle(request):
    if request.body == b"die":
        os._exit(3)
    return 200, str(os.getpid()).encode(), "text/plain", None


def worker() -> int:
    server = abi.Server(handle, threads=1, reuse_port=True)
    status = server.run()
    server.close()
    return status


def main() -> int:
    workers = set()
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            os._exit(worker())
        workers.add(pid)
    stopping = False

    def forward(signum, _frame):
        nonlocal stopping
        stopping = True
        for pid in workers:
            os.kill(pid, signum)

    signal.signal(signal.SIGTERM, forward)
    while workers:
        pid, status = os.wait()
        workers.discard(pid)
        if stopping or os.environ.get("ABI_WORKERS_NO_FAIL"):
            continue
        failed = abi.fail_taken(pid, 500, f"worker {pid} exited with status "
                                          f"{os.waitstatus_to_exitcode(status)}")
        print(f"abi workers: failed {failed} request(s) of worker {pid}", file=sys.stderr,
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
