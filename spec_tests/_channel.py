"""Length-prefixed messages over a pair of pipes, and the restricted reader for the submission's side.

The grader reads what the submission's process sends with `read_untrusted`, an Unpickler that
builds only plain data: numbers, strings, containers, numpy arrays and scalars, paths. Anything
else (a class of the submission's, a function, os.system) is refused before it is built.
"""
import io
import os
import pickle
import struct

HEADER = struct.Struct("<Q")
MAX_MESSAGE_BYTES = 512 << 20  # the largest answer the grader reads (a page's float64 bw is about 100 MB)

SAFE_GLOBALS = {
    ("builtins", n) for n in ("complex", "set", "frozenset", "slice", "range", "bytearray", "list", "dict", "tuple",
                              "int", "float", "str", "bytes", "bool", "object")
} | {
    (m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct", "scalar")
} | {
    (m, "_frombuffer") for m in ("numpy.core.numeric", "numpy._core.numeric")
} | {
    ("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"),
    ("pathlib", "PosixPath"), ("pathlib", "Path"), ("pathlib", "PurePosixPath"), ("copyreg", "_reconstructor"),
}


class UnreadableAnswer(Exception):
    """The submission's process sent something that is not plain data (or not a message at all)."""


class _PlainData(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in SAFE_GLOBALS:
            return super().find_class(module, name)
        if module.startswith(("numpy.dtypes", "numpy._core.dtypes")) and name.endswith("DType"):
            return super().find_class(module, name)   # numpy 2 pickles some dtypes by their class
        raise UnreadableAnswer(f"an object of type {module}.{name}")


def read_untrusted(data, buffers=()):
    """Unpickle bytes (and out-of-band buffers) from the submission's process, building plain data only."""
    try:
        return _PlainData(io.BytesIO(data), buffers=buffers).load()
    except UnreadableAnswer:
        raise
    except Exception as exc:  # noqa: BLE001 (any malformed pickle)
        raise UnreadableAnswer(f"malformed data ({type(exc).__name__}: {str(exc)[:200]})") from None


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
