# Helpers for portable tests: the same file runs under CPython and MicroPython,
# so no pytest here.
import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"


class SkipTest(Exception):
    pass


class raises:
    """`with raises(ValueError) as info:` that works on both interpreters."""

    def __init__(self, exc_type, match=None):
        self.exc_type = exc_type
        self.match = match
        self.value = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            raise AssertionError("%s was not raised" % self.exc_type.__name__)
        if not issubclass(exc_type, self.exc_type):
            return False
        self.value = exc
        if self.match is not None and self.match not in str(exc):
            raise AssertionError("%r does not contain %r" % (str(exc), self.match))
        return True


def approx(a, b, tol):
    return abs(a - b) <= tol
