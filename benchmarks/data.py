"""Benchmark data: segql.ops.sample written to a DuckDB file under benchmarks/data/.

A file is reused when it exists for the same scale, seed and DuckDB version (the
generator is deterministic for a given DuckDB version). It is generated under a
temporary name and renamed when complete, so an interrupted run never leaves a
half-written file that a later run would trust.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


def database_path(scale: float, seed: int = 42, data_dir: Path = DATA_DIR) -> Path:
    import duckdb

    return data_dir / f"sample_s{scale:g}_seed{seed}_duckdb{duckdb.__version__}.duckdb"


def ensure_database(
    scale: float,
    seed: int = 42,
    data_dir: Path = DATA_DIR,
    memory_limit: str | None = None,
    log=print,
) -> Path:
    """Path of the sample database for (scale, seed), generating it if missing."""
    import duckdb

    from segql.ops.sample import generate

    path = database_path(scale, seed, data_dir)
    if path.exists():
        log(f"data: reusing {_rel(path)}")
        return path
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    log(f"data: generating scale {scale:g} (seed {seed}) into {_rel(path)} ...")
    start = time.perf_counter()
    con = duckdb.connect(str(tmp))
    try:
        con.execute("SET enable_progress_bar = false")
        if memory_limit:
            # scale 10 needs ~12 GB without a limit; with one DuckDB spills to disk
            con.execute(f"SET memory_limit = '{_checked_size(memory_limit)}'")
            con.execute(f"SET temp_directory = '{data_dir / 'tmp'}'")
        generate(con, scale=scale, seed=seed)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    tmp.rename(path)
    log(f"data: generated in {time.perf_counter() - start:.1f} s")
    return path


def row_counts(con) -> dict[str, int]:
    return {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("customers", "orders", "web_events")
    }


def _checked_size(text: str) -> str:
    """A DuckDB size setting such as 4GB or 512MB (it is interpolated into SQL)."""
    import re

    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", text.strip(), re.I):
        raise ValueError(f"not a memory size: {text!r} (write e.g. 4GB)")
    return text.strip()


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
