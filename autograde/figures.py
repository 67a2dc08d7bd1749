"""The submission's figures, read back from a test process's folder as bounded, well-formed PNGs.

The files come from the submission's process (through the spec tests' show_figure): only names of
the grader's own pattern, inside the folder the grader gave, regular files of bounded size whose
PNG header declares sane dimensions are kept. Nothing else is opened.
"""
from pathlib import Path

from autograde.outcomes import PNG_MAGIC, Figure, png_size
from spec_tests.protocol import FIGURE_NAME

MAX_FIGURE_BYTES = 3_000_000
MAX_FIGURES = 8
__all__ = ["MAX_FIGURE_BYTES", "MAX_FIGURES", "PNG_MAGIC", "png_size", "read_figures"]


def read_figures(listed, directory, caption_text=str):
    """Figures for the entries a test listed as [file name, caption] (at most MAX_FIGURES), read from
    directory (None: none). caption_text cleans each caption for display. Returns a tuple of Figure."""
    figures = []
    for entry in listed[:MAX_FIGURES]:
        if directory is None or not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(e, str) for e in entry)):
            continue
        name, caption = entry
        path = Path(directory) / name
        if not FIGURE_NAME.fullmatch(name) or path.is_symlink() or not path.is_file():
            continue
        if path.stat().st_size > MAX_FIGURE_BYTES:
            continue
        png = path.read_bytes()
        if png_size(png) is not None:
            figures.append(Figure(caption_text(caption[:200]), png))
    return tuple(figures)

