"""A Python stage on the C ABI (tandem_python.abi), for test_abi.py: answers its input
reversed, with its content type and headers in the custom attributes; "fail" raises."""
import os
import sys

from tandem_python import abi


def handle(request):
    if request.body == b"fail":
        raise ValueError("asked to fail")
    seen = f"ct={request.content_type};id={request.inference_id};tp={request.traceparent}"
    return 200, request.body[::-1], request.content_type or None, seen


def main() -> int:
    server = abi.Server(handle, ping=lambda: not os.environ.get("ABI_STAGE_UNHEALTHY"))
    print(f"abi stage listening on {server.port}", file=sys.stderr, flush=True)
    status = server.run()
    server.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
