"""Coverage-guided fuzzing with atheris (libFuzzer), run by hand, not in CI:

    pip install atheris
    python tests/fuzz_atheris.py -atheris_runs=100000            # fresh corpus
    python tests/fuzz_atheris.py -max_total_time=600 corpus/     # keep a corpus

Each input is a .seg text, a YAML definitions file or a lone condition (the
first byte chooses), run through parse → resolve → compile for every dialect
on tests/fuzz_harness.py's fixed project. Anything but a segql error is a
crash: atheris prints it and saves the input as crash-<hash>.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports(include=["segql", "lark"]):
    import fuzz_harness as fh


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 9)
    text = fdp.ConsumeUnicodeNoSurrogates(len(data))
    if mode < 6:
        fh.run_seg(text)
    elif mode < 8:
        fh.run_yaml(text)
    else:
        fh.run_expression(text)


def seed_corpus() -> str:
    """A corpus folder holding the harness's seed texts (mode byte first)."""
    folder = Path(tempfile.mkdtemp(prefix="segql-atheris-"))
    for i, text in enumerate(fh.SEEDS):
        (folder / f"seg{i}").write_bytes(b"\x00" + text.encode())
    for i, text in enumerate(fh.YAML_SEEDS):
        (folder / f"yaml{i}").write_bytes(b"\x06" + text.encode())
    return str(folder)


def main() -> None:
    argv = list(sys.argv)
    if not any(not a.startswith("-") for a in argv[1:]):
        argv.append(seed_corpus())  # no corpus given: start from the seeds
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
