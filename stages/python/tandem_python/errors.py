"""Errors of tandem-python and where they happened in the user's code.

A StartupError is one line for the stage's stderr; an exception in a handler becomes a short
plain-text body naming the exception and the innermost line of the user's code it came from.
"""

import os
import traceback


class StartupError(Exception):
    """One line for the stage's stderr, naming the file and line where it applies.

    `details` holds the full traceback when there is one, for a debug log.
    """

    def __init__(self, line, details=""):
        super().__init__(line)
        self.details = details


class UserCode:
    """Where the user's code lives: tells user frames from library frames and names files
    relative to the code directory."""

    def __init__(self, code_dir):
        self.root = os.path.realpath(code_dir) + os.sep

    def owns(self, filename):
        return os.path.realpath(filename).startswith(self.root)

    def name(self, filename):
        real = os.path.realpath(filename)
        return real[len(self.root):] if real.startswith(self.root) else filename

    def innermost_frame(self, tb):
        """(file, line) of the innermost frame of `tb` in the user's code, or None."""
        found = None
        for frame in traceback.extract_tb(tb):
            if self.owns(frame.filename):
                found = (self.name(frame.filename), frame.lineno)
        return found

    def where(self, tb):
        """"file:line: " of the innermost user frame, or "" when the user's code is not in it."""
        found = self.innermost_frame(tb)
        return "%s:%d: " % found if found else ""


def describe(exc):
    """"Type: message" of an exception on one line (a toolkit error gives its message)."""
    message = getattr(exc, "message", None)
    if not isinstance(message, str):
        message = str(exc)
    message = " ".join(message.split())
    name = type(exc).__name__
    return "%s: %s" % (name, message) if message else name
