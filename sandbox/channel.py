"""Length-prefixed messages over a pair of pipes, and the restricted reader for the submission's side.

The grader reads what the submission's process sends with `read_untrusted`, an Unpickler that
builds only plain data: numbers, strings, containers, numpy arrays and scalars, paths (as pure
paths). Anything else (a class of the submission's, a function, os.system, even numpy.ndarray
called as a constructor) is refused before it is built, and the result's size is checked after.
"""
import collections
import io
import os
import pathlib
import pickle
import struct

import numpy as np

HEADER = struct.Struct("<Q")
MAX_MESSAGE_BYTES = 512 << 20  # the largest answer the grader reads (a page's float64 bw is about 100 MB)

MAX_ANSWER_BYTES = 1 << 30    # the most data one answer may hold once unpickled (arrays' logical size)
MAX_ANSWER_ITEMS = 5_000_000   # containers' items, all levels together
MAX_ANSWER_DEPTH = 100


class _NdarrayToken:
    """What `numpy.ndarray` unpickles to: usable only as _reconstruct's first argument, never called
    (ndarray(shape, dtype, buffer, offset, strides) would build a huge array from a few bytes)."""


def _reconstruct(subtype, shape, dtype):
    if subtype is not _NdarrayToken:
        raise UnreadableAnswer("an array of a type other than numpy.ndarray")
    return np.ndarray.__new__(np.ndarray, (0,), dtype)  # numpy's _reconstruct does this; __setstate__ checks sizes


SAFE_GLOBALS = {
    ("builtins", "complex"): complex, ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
    ("numpy", "ndarray"): _NdarrayToken, ("numpy", "dtype"): np.dtype,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("pathlib", "PosixPath"): pathlib.PurePosixPath, ("pathlib", "Path"): pathlib.PurePosixPath,
    ("pathlib", "PurePosixPath"): pathlib.PurePosixPath,
    # Python 3.13 pickles paths under their new home, pathlib._local.
    ("pathlib._local", "PosixPath"): pathlib.PurePosixPath, ("pathlib._local", "PurePosixPath"): pathlib.PurePosixPath,
}
for _m in ("numpy.core.multiarray", "numpy._core.multiarray"):
    SAFE_GLOBALS[(_m, "_reconstruct")] = _reconstruct
    SAFE_GLOBALS[(_m, "scalar")] = "numpy-scalar"
for _m in ("numpy.core.numeric", "numpy._core.numeric"):
    SAFE_GLOBALS[(_m, "_frombuffer")] = "numpy-frombuffer"   # frombuffer + reshape: sizes are checked


class UnreadableAnswer(Exception):
    """The submission's process sent something that is not plain data (or not a message at all)."""


class _PlainData(pickle.Unpickler):
    def find_class(self, module, name):
        found = SAFE_GLOBALS.get((module, name))
        if isinstance(found, str):    # numpy's own helpers, which check what they build
            return super().find_class(module, name)
        if found is not None:
            return found
        raise UnreadableAnswer(f"an object of type {module}.{name}")


def read_untrusted(data, buffers=()):
    """Unpickle bytes (and out-of-band buffers) from the submission's process, building plain data only."""
    try:
        answer = _PlainData(io.BytesIO(data), buffers=buffers).load()
    except UnreadableAnswer:
        raise
    except Exception as exc:  # noqa: BLE001 (any malformed pickle)
        raise UnreadableAnswer(f"malformed data ({type(exc).__name__}: {str(exc)[:200]})") from None
    _check_size(answer)
    return answer


def _check_size(answer):
    """Refuse an answer bigger than the grader will handle: MAX_ANSWER_BYTES of arrays and
    strings, MAX_ANSWER_ITEMS container items, MAX_ANSWER_DEPTH levels of nesting."""
    size = items = 0
    todo = [(answer, 0)]
    while todo:
        value, depth = todo.pop()
        if depth > MAX_ANSWER_DEPTH:
            raise UnreadableAnswer(f"data nested more than {MAX_ANSWER_DEPTH} levels deep")
        if isinstance(value, np.ndarray):
            size += value.nbytes
            if value.dtype == object:
                todo.extend((v, depth + 1) for v in value.flat)
        elif isinstance(value, (str, bytes, bytearray)):
            size += len(value)
        elif isinstance(value, dict):
            items += len(value)
            todo.extend((v, depth + 1) for pair in value.items() for v in pair)
        elif isinstance(value, (list, tuple, set, frozenset)):
            items += len(value)
            todo.extend((v, depth + 1) for v in value)
        if size > MAX_ANSWER_BYTES or items > MAX_ANSWER_ITEMS:
            raise UnreadableAnswer(f"more data than the grader reads ({MAX_ANSWER_BYTES >> 20} MB, {MAX_ANSWER_ITEMS} items)")


class Channel:
    """Send and receive whole messages over two file descriptors (read, write).

    A message is a pickle plus its out-of-band buffers (pickle protocol 5): numpy arrays travel as
    their own memory, written straight to the pipe and read into their own buffers, so a 100 MB
    page is never copied into a second 100 MB bytes object on either side.
    """

    def __init__(self, read_fd, write_fd):
        self.read_fd, self.write_fd = read_fd, write_fd

    def send(self, obj, dumps):
        """Pickle obj with dumps (pickle.dumps or cloudpickle.dumps) and send it."""
        buffers = []
        data = dumps(obj, protocol=5, buffer_callback=buffers.append)
        raws = [b.raw() for b in buffers]
        sizes = [len(data), *(r.nbytes for r in raws)]
        self._write_all(memoryview(HEADER.pack(len(sizes)) + b"".join(HEADER.pack(n) for n in sizes)))
        for part in (memoryview(data), *raws):
            self._write_all(part)

    def _write_all(self, view):
        view = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        while view:
            view = view[os.write(self.write_fd, view):]

    def receive_parts(self, limit=MAX_MESSAGE_BYTES):
        """(pickle bytes, [out-of-band buffers]) of the next message, or None when the other side
        closed the pipe. Raises UnreadableAnswer for a message over `limit` bytes in all."""
        count = self._read_exact(HEADER.size)
        if count is None:
            return None
        (count,) = HEADER.unpack(count)
        if not 1 <= count <= 100_000:
            raise UnreadableAnswer(f"a malformed message ({count} parts)")
        sizes = self._read_exact(HEADER.size * count)
        if sizes is None:
            return None
        sizes = [HEADER.unpack_from(sizes, i * HEADER.size)[0] for i in range(count)]
        if sum(sizes) > limit:
            raise UnreadableAnswer(f"a message of {sum(sizes)} bytes (more than the {limit} the grader reads)")
        parts = []
        for size in sizes:
            part = self._read_exact(size)
            if part is None:
                return None
            parts.append(part)
        return parts[0], parts[1:]

    def receive(self, loads):
        parts = self.receive_parts()
        return None if parts is None else loads(parts[0], buffers=parts[1])

    def _read_exact(self, size):
        buffer = bytearray(size)
        view, got = memoryview(buffer), 0
        while got < size:
            n = os.readv(self.read_fd, [view[got:]])
            if n == 0:
                return None
            got += n
        return buffer
