#!/usr/bin/env bash
# Install the `voice` extra (Coqui TTS) on a CPU-only machine without pulling CUDA packages.
#
#   scripts/install_voice.sh [PYTHON]      # PYTHON defaults to python3; e.g. .venv/bin/python
#
# Why not just `pip install -e ".[voice]"`? Three things need care (docs/voice.md):
#  1. torch first, as the CPU build: `pip install torch==2.13.0` takes the local CPU wheel
#     here. Any newer torch, asked for directly or by another package, is a CUDA build with
#     several GB of nvidia-* packages. The extra caps torch below 2.14 for the same reason.
#     Set DAENA_TORCH_SPEC to choose another build (e.g. on a machine with a GPU).
#  2. coqui-tts imports torchaudio (and refuses to import without torchcodec once torch is
#     2.9 or newer). PyPI has no CPU build of either: torchaudio's compiled extension links
#     libc10_cuda.so, so `import torchaudio` fails against a CPU torch. torchaudio only loads
#     that extension when its files exist (its `_load_lib` treats a missing file as "not
#     built"), and the parts Coqui uses to speak (transforms, resample) are pure Python, so
#     this script deletes the CUDA-linked files -- only when `import torchaudio` fails and
#     the installed torch has no CUDA. torchcodec stays as installed: coqui-tts only checks
#     that it is present; it is used to load audio with `torchaudio.load`, which Coqui calls
#     for XTTS voice cloning (see docs/voice.md: XTTS needs a torch/torchcodec pair that
#     loads on the machine; the bundled tests use a model that does not need it).
#  3. coqui-tts 0.28 imports `six` without declaring it; the extra lists it.
set -euo pipefail
export PIP_DISABLE_PIP_VERSION_CHECK=1

PY="${1:-python3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TORCH_SPEC="${DAENA_TORCH_SPEC:-torch==2.13.0}"

echo "== torch ($TORCH_SPEC)"
"$PY" -m pip install -q "$TORCH_SPEC"

echo "== daena-console[voice]"
"$PY" -m pip install -q -e "${ROOT}[voice]"

echo "== torchaudio on a CPU torch"
"$PY" - <<'EOF'
import importlib.util
import pathlib
import subprocess
import sys

probe = subprocess.run([sys.executable, "-c", "import torchaudio"], capture_output=True, text=True)
if probe.returncode == 0:
    print("torchaudio imports: nothing to do")
    raise SystemExit(0)
import torch

if torch.version.cuda is not None:
    print(probe.stderr, file=sys.stderr)
    raise SystemExit("torchaudio does not import with a CUDA torch: not touching it")
spec = importlib.util.find_spec("torchaudio")
assert spec is not None and spec.origin is not None
lib = pathlib.Path(spec.origin).parent / "lib"
removed = sorted(p.name for p in lib.glob("*.so"))
for name in removed:
    (lib / name).unlink()
print(f"removed torchaudio's CUDA-linked extension from {lib}: {', '.join(removed)}")
EOF

echo "== check"
"$PY" -c "import TTS, torch, torchaudio; print('coqui-tts', TTS.__version__, '| torch', torch.__version__, '| torchaudio', torchaudio.__version__)"
"$PY" -c "from TTS.api import TTS; print('TTS.api imports')"
