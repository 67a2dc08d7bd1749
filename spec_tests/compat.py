"""Removed library APIs, run as their replacements: the grading environment's newer numpy, SciPy and
scikit-image should not cost a student points that the handout's era of these libraries gave.

Installed in the submission's worker (sandbox/worker.py) before any of its modules load, unless
HW5_COMPAT=0 (`autograde --no-compat`, the rubric's `compat = false`). Each API that was removed
since 2018 and has an exact replacement runs as that replacement, and is noted once per grading
("uses `np.float`, removed in NumPy 1.24: graded as `float`; change it"); the notes reach every
report. An API without an exact replacement still fails, with a message that names the removal,
the version and the fix.

Nothing here changes what a current API does: a name or keyword is translated only where the
installed library no longer has it.
"""
import functools
import importlib.abc
import inspect
import math
import sys

import numpy as np

_notes = {}                          # note text -> whether the grader has been told already
_submission = [None]                 # the submission's folder: only its own code gets removed names


def _asked_by_the_submission(depth=2):
    """True when the code asking for a removed name (the caller of the module __getattr__ that calls
    this) is the submission's: a library probing numpy with hasattr must see what it always saw."""
    folder = _submission[0]
    if folder is None:
        return True
    filename = sys._getframe(depth).f_code.co_filename
    return filename.startswith(folder)


def note(old, removed, new):
    """Record that the submission used `old`, removed in `removed`, graded as `new`."""
    _notes.setdefault(f"uses `{old}`, removed in {removed}: graded as `{new}`; change it", False)


def take_notes():
    """The notes not yet handed to the grader (a list of str), marking them handed."""
    new = [text for text, told in _notes.items() if not told]
    _notes.update(dict.fromkeys(new, True))
    return new


class RemovedAPI(AttributeError):
    """A removed API without an exact replacement: the message names the removal and the fix."""


def _removed(old, removed, fix):
    def removed_function(*args, **kwargs):
        raise RemovedAPI(f"`{old}` was removed in {removed} and has no exact replacement here: {fix}")
    removed_function.__name__ = old.rsplit(".", 1)[-1]
    return removed_function


# --- numpy: names removed from the namespace ------------------------------------------------------

def _asfarray(a, dtype=np.float64):
    dtype = np.dtype(dtype)
    return np.asarray(a, dtype=dtype if np.issubdtype(dtype, np.inexact) else np.float64)


NUMPY = {  # name: (value, removed in, what it is graded as)
    "float": (float, "NumPy 1.24", "float"), "int": (int, "NumPy 1.24", "int"),
    "object": (object, "NumPy 1.24", "object"), "complex": (complex, "NumPy 1.24", "complex"),
    "str": (str, "NumPy 1.24", "str"), "unicode": (str, "NumPy 1.24", "str"),
    "float_": (np.float64, "NumPy 2.0", "np.float64"), "complex_": (np.complex128, "NumPy 2.0", "np.complex128"),
    "string_": (np.bytes_, "NumPy 2.0", "np.bytes_"), "unicode_": (np.str_, "NumPy 2.0", "np.str_"),
    "int0": (np.intp, "NumPy 2.0", "np.intp"), "uint0": (np.uintp, "NumPy 2.0", "np.uintp"),
    "bool8": (np.bool_, "NumPy 2.0", "np.bool_"),
    "NaN": (math.nan, "NumPy 2.0", "np.nan"), "NAN": (math.nan, "NumPy 2.0", "np.nan"),
    "Inf": (math.inf, "NumPy 2.0", "np.inf"), "Infinity": (math.inf, "NumPy 2.0", "np.inf"),
    "infty": (math.inf, "NumPy 2.0", "np.inf"), "PINF": (math.inf, "NumPy 2.0", "np.inf"),
    "NINF": (-math.inf, "NumPy 2.0", "-np.inf"), "PZERO": (0.0, "NumPy 2.0", "0.0"), "NZERO": (-0.0, "NumPy 2.0", "-0.0"),
    "round_": (np.round, "NumPy 2.0", "np.round"), "product": (np.prod, "NumPy 2.0", "np.prod"),
    "cumproduct": (np.cumprod, "NumPy 2.0", "np.cumprod"), "sometrue": (np.any, "NumPy 2.0", "np.any"),
    "alltrue": (np.all, "NumPy 2.0", "np.all"), "asfarray": (_asfarray, "NumPy 2.0", "np.asarray(a, dtype=float)"),
    "msort": (lambda a: np.sort(a, axis=0), "NumPy 2.0", "np.sort(a, axis=0)"),
    "trapz": (np.trapezoid, "NumPy 2.4", "np.trapezoid"),
    "in1d": (lambda ar1, ar2, *args, **kwargs: np.isin(np.ravel(ar1), ar2, *args, **kwargs), "NumPy 2.4",
             "np.isin(np.ravel(a), b)"),
}


def _install_numpy():
    original = np.__dict__.get("__getattr__")

    def __getattr__(name):
        if name in NUMPY and _missing(original, name) and _asked_by_the_submission():
            value, removed, new = NUMPY[name]
            note(f"np.{name}", removed, new)
            return value
        if original is None:
            raise AttributeError(f"module 'numpy' has no attribute {name!r}")
        return original(name)
    np.__getattr__ = __getattr__


def _missing(getattr_of_module, name):
    """True when the module's own __getattr__ does not give `name` (it is removed here)."""
    if getattr_of_module is None:
        return True
    try:
        getattr_of_module(name)
    except AttributeError:
        return True
    return False


# --- scikit-image: renamed keywords and functions -------------------------------------------------

class _Keyword:
    """An old keyword argument and its exact replacement."""

    def __init__(self, old, new, removed, convert=lambda value: value, shown=None):
        self.old, self.new, self.removed, self.convert, self.shown = old, new, removed, convert, shown

    def applies(self, parameters):
        return self.new in parameters and self.old not in parameters

    def translate(self, qualified, kwargs):
        value = self.convert(kwargs.pop(self.old))
        kwargs[self.new] = value
        note(f"{self.old}=` in `{qualified}", self.removed, f"{self.new}={value!r}" if self.shown is None else self.shown)


KEYWORDS = (
    _Keyword("multichannel", "channel_axis", "scikit-image 0.20", lambda value: -1 if value else None),
    _Keyword("selem", "footprint", "scikit-image 0.20", shown="footprint= (the same array)"),
    _Keyword("neighbors", "connectivity", "scikit-image 0.18", lambda value: {4: 1, 8: 2}.get(value, value)),
    _Keyword("as_grey", "as_gray", "scikit-image 0.16"),
    _Keyword("n_iter_max", "max_num_iter", "scikit-image 0.20"),
    _Keyword("seed", "rng", "scikit-image 0.23"),
    # Deprecated in 0.26, to be removed in 2.0: min_size removed objects smaller than it, max_size removes
    # those no larger than it.
    _Keyword("min_size", "max_size", "scikit-image 2.0", lambda value: value - 1),
)


def _translating(function, qualified):
    """function, taking the removed keywords of KEYWORDS as their replacements (or itself when none
    of its parameters replaced one)."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return function
    keywords = [k for k in KEYWORDS if k.applies(parameters)]
    special = {"in_place": "out" in parameters and "in_place" not in parameters,
               "coordinates": qualified.endswith(".regionprops") and "coordinates" not in parameters}
    if not keywords and not any(special.values()):
        return function

    @functools.wraps(function)
    def translated(*args, **kwargs):
        for keyword in keywords:
            if keyword.old in kwargs:
                keyword.translate(qualified, kwargs)
        if special["in_place"] and "in_place" in kwargs:
            if kwargs.pop("in_place") and args:
                kwargs["out"] = args[0]
            note(f"in_place=` in `{qualified}", "scikit-image 0.20", "out=<the input array>")
        if special["coordinates"] and "coordinates" in kwargs:
            if kwargs.pop("coordinates") not in (None, "rc"):
                raise RemovedAPI(f"`coordinates='xy'` in `{qualified}` was removed in scikit-image 0.20 and has no exact "
                                 "replacement: regionprops gives (row, column) coordinates; swap them yourself")
            note(f"coordinates=` in `{qualified}", "scikit-image 0.20", "no argument (row, column is the only order)")
        return function(*args, **kwargs)
    translated.__hw5_compat__ = True
    return translated


def _moved(module, name):
    def resolve():
        return getattr(importlib.import_module(module), name)
    return resolve


RENAMED = {  # module: {removed name: (its replacement, removed in, shown as)}
    "skimage.measure": {
        "compare_psnr": (_moved("skimage.metrics", "peak_signal_noise_ratio"), "scikit-image 0.18",
                         "skimage.metrics.peak_signal_noise_ratio"),
        "compare_ssim": (_moved("skimage.metrics", "structural_similarity"), "scikit-image 0.18",
                         "skimage.metrics.structural_similarity"),
        "compare_mse": (_moved("skimage.metrics", "mean_squared_error"), "scikit-image 0.18",
                        "skimage.metrics.mean_squared_error"),
        "compare_nrmse": (_moved("skimage.metrics", "normalized_root_mse"), "scikit-image 0.18",
                          "skimage.metrics.normalized_root_mse")},
    "skimage.feature": {
        "greycomatrix": (_moved("skimage.feature", "graycomatrix"), "scikit-image 0.20", "skimage.feature.graycomatrix"),
        "greycoprops": (_moved("skimage.feature", "graycoprops"), "scikit-image 0.20", "skimage.feature.graycoprops")},
    "skimage.color": {
        "rgb2grey": (_moved("skimage.color", "rgb2gray"), "scikit-image 0.19", "skimage.color.rgb2gray"),
        "grey2rgb": (_moved("skimage.color", "gray2rgb"), "scikit-image 0.19", "skimage.color.gray2rgb")},
    "skimage.morphology": {
        "watershed": (_moved("skimage.segmentation", "watershed"), "scikit-image 0.19", "skimage.segmentation.watershed"),
        # deprecated in 0.25, to be removed in 0.27: what students build their footprints with
        "square": (lambda: _footprint(2), "scikit-image 0.27", "skimage.morphology.footprint_rectangle((w, w))"),
        "cube": (lambda: _footprint(3), "scikit-image 0.27", "skimage.morphology.footprint_rectangle((w, w, w))"),
        "rectangle": (lambda: lambda nrows, ncols, dtype=np.uint8, **kwargs: _rectangle((nrows, ncols), dtype, **kwargs),
                      "scikit-image 0.27", "skimage.morphology.footprint_rectangle((nrows, ncols))")},
}


def _rectangle(shape, dtype=np.uint8, **kwargs):
    return importlib.import_module("skimage.morphology").footprint_rectangle(shape, dtype=dtype, **kwargs)


def _footprint(dimensions):
    """square (2) or cube (3) as footprint_rectangle gives it."""
    return lambda width, dtype=np.uint8, **kwargs: _rectangle((width,) * dimensions, dtype, **kwargs)


def _scipy_misc_imread(name, flatten=False, mode=None):
    """scipy.misc.imread as SciPy 1.1 had it: PIL's image as an array (mode 'F' when flatten)."""
    from PIL import Image
    with Image.open(name) as image:
        if mode is not None:
            image = image.convert(mode)
        elif flatten:
            image = image.convert("F")
        return np.array(image)


SCIPY = {  # module: {removed name: (replacement or None, removed in, shown as, the fix where not exact)}
    "scipy.misc": {
        "imread": (lambda: _scipy_misc_imread, "SciPy 1.2", "PIL's image as an array (skimage.io.imread)", None),
        "imresize": (None, "SciPy 1.3", None, "use skimage.transform.resize(image, shape, anti_aliasing=True), which "
                     "keeps floats in [0, 1] (imresize returned uint8 rescaled to 0-255)"),
        "imrotate": (None, "SciPy 1.3", None, "use skimage.transform.rotate(image, angle)"),
        "imsave": (None, "SciPy 1.2", None, "use skimage.io.imsave or matplotlib.pyplot.imsave"),
        "toimage": (None, "SciPy 1.2", None, "use PIL.Image.fromarray(skimage.img_as_ubyte(image))"),
        "fromimage": (None, "SciPy 1.2", None, "use np.asarray(pil_image)"),
        "bytescale": (None, "SciPy 1.2", None, "use skimage.img_as_ubyte(skimage.exposure.rescale_intensity(image))")},
    "scipy.ndimage": {
        "imread": (lambda: _scipy_misc_imread, "SciPy 1.2", "PIL's image as an array (skimage.io.imread)", None)},
}

TARGETS = {"skimage.filters", "skimage.morphology", "skimage.measure", "skimage.restoration", "skimage.transform",
           "skimage.feature", "skimage.segmentation", "skimage.color", "skimage.io", "skimage.metrics", "skimage.util",
           "skimage.exposure", "skimage.draw", "scipy.misc", "scipy.ndimage"}


def _patch_module(module):
    """Wrap the module's functions (those it has, and those its lazy __getattr__ loads later) to take
    removed keywords, and give it its removed names (RENAMED, SCIPY)."""
    name = module.__name__
    for attr, value in list(vars(module).items()):
        if not attr.startswith("_") and inspect.isfunction(value) and not hasattr(value, "__hw5_compat__"):
            setattr(module, attr, _translating(value, f"{name}.{attr}"))
    renamed, removed = RENAMED.get(name, {}), SCIPY.get(name, {})
    original = vars(module).get("__getattr__")

    def __getattr__(attr):
        asked = _asked_by_the_submission()
        if attr in renamed and asked and _missing(original, attr):
            resolve, version, shown = renamed[attr]
            note(f"{name}.{attr}", version, shown)
            return _translating(resolve(), shown)
        if attr in removed and asked and _missing(original, attr):
            resolve, version, shown, fix = removed[attr]
            if resolve is None:
                return _removed(f"{name}.{attr}", version, fix)
            note(f"{name}.{attr}", version, shown)
            return resolve()
        if original is None:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        value = original(attr)
        if inspect.isfunction(value) and not hasattr(value, "__hw5_compat__"):
            value = _translating(value, f"{name}.{attr}")
            module.__dict__[attr] = value   # lazy modules cache what they load: cache the wrapper
        return value
    module.__getattr__ = __getattr__


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        _patch_module(module)


class _PatchingFinder(importlib.abc.MetaPathFinder):
    """Patches the TARGETS modules as they are imported (importing them all up front takes a second)."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in TARGETS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


def install(submission_folder=None):
    """Install the layer in this process (the worker, before the submission's code runs). Only code
    in submission_folder (a path; default: any code) is given removed names."""
    _submission[0] = None if submission_folder is None else str(submission_folder).rstrip("/") + "/"
    _install_numpy()
    for name in TARGETS & set(sys.modules):   # already imported: patch them now
        _patch_module(sys.modules[name])
    sys.meta_path.insert(0, _PatchingFinder())
