#!/usr/bin/env bash
# A venv with torch's CPU build, for measuring what a Gradescope container (whose setup.sh installs
# torch's CPU wheels) holds in memory: `bash benchmarks/cpu_torch_venv.sh DIR`, then
# `DIR/bin/python benchmarks/budget.py`.
#
# This machine has one CPU build of torch on disk, 2.13.0+cpu, and only the CUDA builds of
# torchvision (0.28.0 matches 2.13). torchvision's compiled ops (_C.so) need CUDA's libraries and do
# not load beside the CPU torch; everything Q7 uses of torchvision (models.squeezenet1_1, datasets.
# ImageFolder, transforms.v2) is Python. Two registrations in torchvision 0.28's
# _meta_registrations.py (the fake kernels of torchvision::nms and ::qnms) do not check whether the
# ops loaded, and fail the import ("operator torchvision::nms does not exist"): here they are made to
# check, as their neighbours do. Measurement only: never a course's install.
set -euo pipefail
venv=${1:?usage: cpu_torch_venv.sh DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
python3 -m venv "$venv"
"$venv/bin/pip" install -q torch==2.13.0             # the +cpu wheel this machine keeps on disk
"$venv/bin/pip" install -q --no-deps torchvision==0.28.0
"$venv/bin/pip" install -q -e "$here"
meta=$("$venv/bin/python" -c "import importlib.util as u; print(u.find_spec('torchvision').submodule_search_locations[0])")/_meta_registrations.py
"$venv/bin/python" - "$meta" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
guard = ("def _fake(name):\n    # measurement venv: torchvision's compiled ops are not loaded\n"
         "    return (lambda fn: torch.library.register_fake(name)(fn)) if torchvision.extension._has_ops() else (lambda fn: fn)\n\n\n")
if "def _fake(name)" not in text:
    text = re.sub(r'@torch\.library\.register_fake\(("torchvision::\w+")\)', r"@_fake(\1)", text)
    text = text.replace("\n\n@functools.lru_cache(None)\ndef get_meta_lib", "\n\n" + guard + "@functools.lru_cache(None)\ndef get_meta_lib", 1)
    open(path, "w").write(text)
PY
"$venv/bin/python" -c "import torch, torchvision; torchvision.models.squeezenet1_1(); print('torch', torch.__version__, 'torchvision', torchvision.__version__, '(Python only)')"
