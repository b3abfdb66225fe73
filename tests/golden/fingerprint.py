"""The golden regression baseline: fingerprints of the model's outputs for a fixed set of small runs.

Three scenarios x two seeds, 1,000 customers x 26 weeks. For each run, every column of
``metrics.parquet`` and ``departments.parquet`` is fingerprinted (SHA-256 of its values; floats
rounded to 10 significant digits, so the fingerprint is about behaviour, not about the last bit a
vector unit rounds differently on another CPU), and a few headline numbers are kept beside the
fingerprints so that a diff reads as a change of behaviour.

The test (``tests/test_golden.py``) fails on any change: a column whose values changed, or a
column that disappeared. A new column is not a change of behaviour and is allowed.

When a change of behaviour is intended, regenerate the baseline and say why in the commit that
does it::

    .venv/bin/python tests/golden/fingerprint.py          # rewrites tests/golden/golden.json
    .venv/bin/python tests/golden/fingerprint.py --check  # exit 1 and list what differs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

GOLDEN = Path(__file__).with_name("golden.json")
SCENARIOS = ("siloed_scorecards", "score_chasing", "full_transformation")
SEEDS = (0, 1)
CUSTOMERS, WEEKS = 1000, 26
HEADLINE = ("true_nps", "measured_nps", "active_customers", "revenue", "recoveries", "conflicting_contacts")


def column_fingerprint(values: pd.Series) -> str:
    """SHA-256 of a column's values (floats rounded to 10 significant digits; NaN kept as NaN)."""
    if pd.api.types.is_float_dtype(values):
        x = values.to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            digits = np.where(np.isfinite(x) & (x != 0), 9 - np.floor(np.log10(np.abs(x))), 0).astype(int)
        rounded = (repr(round(float(v), int(d))) if np.isfinite(v) else "nan" for v, d in zip(x, digits, strict=True))
        text = ",".join(rounded)
    elif pd.api.types.is_bool_dtype(values) or pd.api.types.is_integer_dtype(values):
        text = ",".join(str(int(v)) for v in values)
    else:
        text = ",".join(str(v) for v in values)
    return hashlib.sha256(text.encode()).hexdigest()


def frame_fingerprints(frame: pd.DataFrame) -> dict[str, str]:
    """One fingerprint per column."""
    return {column: column_fingerprint(frame[column]) for column in frame.columns}


def run_fingerprints(scenario: str, seed: int) -> dict[str, Any]:
    """Run one golden configuration and fingerprint its outputs."""
    from sim import SiloModel, compose_config

    cfg = compose_config(
        [f"scenario={scenario}", f"seed={seed}", f"customers={CUSTOMERS}", f"weeks={WEEKS}", "output.progress=false"]
    )
    model = SiloModel(cfg).run()
    metrics, departments = model.metrics_frame(), model.departments_frame()
    last = metrics.iloc[-1]
    return {
        "headline": {k: round(float(last[k]), 6) for k in HEADLINE},
        "metrics": frame_fingerprints(metrics),
        "departments": frame_fingerprints(departments),
    }


def current() -> dict[str, Any]:
    """Fingerprints of every golden run, keyed ``<scenario>/seed<seed>``."""
    return {f"{s}/seed{seed}": run_fingerprints(s, seed) for s in SCENARIOS for seed in SEEDS}


def differences(golden: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What changed: each run and table whose column is missing or has other values."""
    out = []
    for run, expected in golden.items():
        got = now.get(run)
        if got is None:
            out.append(f"{run}: not run")
            continue
        for table in ("metrics", "departments"):
            for column, digest in expected[table].items():
                if column not in got[table]:
                    out.append(f"{run} {table}.{column}: missing")
                elif got[table][column] != digest:
                    out.append(f"{run} {table}.{column}: changed")
        if got["headline"] != expected["headline"]:
            out.append(f"{run} headline: {expected['headline']} -> {got['headline']}")
    return out


def main(argv: list[str] | None = None) -> None:
    """Rewrite the golden baseline, or check against it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with golden.json instead of rewriting it")
    args = parser.parse_args(argv)
    now = current()
    if args.check:
        diff = differences(json.loads(GOLDEN.read_text()), now)
        print("\n".join(diff) if diff else "golden baseline unchanged")
        sys.exit(1 if diff else 0)
    GOLDEN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} ({len(now)} runs)")


if __name__ == "__main__":
    main()
