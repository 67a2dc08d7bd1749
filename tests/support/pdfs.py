"""Builders of the PDFs the write-up tests read: text pages, a scan, an encrypted file, a file of many
blank pages, a decompression bomb. Most are written byte by byte (objects and a cross-reference
table), so that each test knows exactly what the file holds."""
import io
import zlib
from pathlib import Path


def _pdf_bytes(objects):
    """A PDF whose object i+1 is objects[i] (bytes); object 1 must be the catalog."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _stream(data, filters=()):
    names = b" ".join(b"/" + f.encode() for f in filters)
    head = b"<< /Length %d" % len(data) + (b" /Filter [" + names + b"]" if filters else b"") + b" >>"
    return head + b"\nstream\n" + data + b"\nendstream"


def _escape(line):
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")


def _pages_pdf(contents):
    """A PDF with one page per content stream (bytes, or (bytes, filters)), Helvetica as /F1."""
    count = len(contents)
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(count))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count,
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    for i, content in enumerate(contents):
        data, filters = content if isinstance(content, tuple) else (content, ())
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i))
        objects.append(_stream(data, filters))
    return _pdf_bytes(objects)


def text_pdf(path, pages):
    """Write a PDF of text pages: pages is a list of pages, each a list of lines. Returns path."""
    contents = []
    for lines in pages:
        ops = [b"BT /F1 12 Tf 16 TL 72 740 Td"]
        ops += [b"(" + _escape(line) + b") Tj T*" for line in lines]
        contents.append(b"\n".join(ops + [b"ET"]))
    Path(path).write_bytes(_pages_pdf(contents))
    return Path(path)


def matplotlib_pdf(path, pages):
    """The same with matplotlib's PDF backend and TrueType fonts (fonttype 42), as a notebook exports
    a figure: pages is a list of pages, each a list of lines. Returns path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(path) as pdf:
        for lines in pages:
            figure = plt.figure(figsize=(8.5, 11))
            for row, line in enumerate(lines):
                figure.text(0.1, 0.9 - 0.04 * row, line, fontsize=12)
            pdf.savefig(figure)
            plt.close(figure)
    return Path(path)


def scanned_pdf(path):
    """A PDF holding only an image of a page of handwriting (no text), as a scanner writes. Returns path."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (850, 1100), 255)
    draw = ImageDraw.Draw(image)
    for row in range(20):
        draw.line([(80, 100 + 45 * row), (770, 110 + 45 * row)], fill=30, width=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PDF", resolution=100)
    Path(path).write_bytes(buffer.getvalue())
    return Path(path)


def blank_pdf(path, pages):
    """A PDF of `pages` blank pages, written with pypdf. Returns path."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    with open(path, "wb") as f:
        writer.write(f)
    return Path(path)


def encrypted_pdf(path, source, password="secret"):
    """The PDF `source` encrypted (RC4, which pypdf does without extra packages) with a user password."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    with open(path, "wb") as f:
        writer.write(f)
    return Path(path)


def deflate_zeros(size, chunk=1 << 20):
    """A zlib stream of `size` zero bytes (rounded up to whole `chunk`s), made in a fraction of a second:
    each chunk is deflated once at level 9 and ended with a full flush, which makes the compressed
    chunks independent of each other, so the same bytes repeat; the Adler-32 of n zeros is (n, 1)."""
    count = -(-size // chunk)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()   # an empty last block
    adler = ((count * chunk) % 65521) << 16 | 1
    return b"\x78\xda" + block * count + final + adler.to_bytes(4, "big")


def bomb_pdf(path, inflated_bytes=1 << 30):
    """A one-page PDF whose content stream is a few KB that inflates to `inflated_bytes` zeros: the zeros
    deflated, then deflated again (/Filter [/FlateDecode /FlateDecode]). Returns path."""
    twice = zlib.compress(deflate_zeros(inflated_bytes), 9)
    Path(path).write_bytes(_pages_pdf([(twice, ("FlateDecode", "FlateDecode"))]))
    return Path(path)


def slow_pdf(path, pages=50, operations=250_000):
    """A small PDF that takes pypdf minutes to read: every page shows one shared content stream of
    `operations` text operations (each page several seconds, under pypdf's own per-stream limits)."""
    content = zlib.compress(b"BT /F1 12 Tf (a) Tj ET\n" * operations, 9)
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               _stream(content, ("FlateDecode",))]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                b"/Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"] * pages
    Path(path).write_bytes(_pdf_bytes(objects))
    return Path(path)
