"""The golden regression baseline: the model's outputs for fixed small runs must not change.

See tests/golden/fingerprint.py for what is fingerprinted and how to regenerate the baseline when
a change of behaviour is intended (the commit that regenerates it says why).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "golden"))

from fingerprint import GOLDEN, current, differences


def test_outputs_match_the_golden_baseline() -> None:
    golden = json.loads(GOLDEN.read_text())
    assert len(golden) == 6
    diff = differences(golden, current())
    assert not diff, "behaviour changed (regenerate with tests/golden/fingerprint.py if intended):\n" + "\n".join(diff)


def test_the_fingerprint_sees_a_one_digit_change() -> None:
    import pandas as pd
    from fingerprint import column_fingerprint

    a = pd.Series([1.0, 2.5, float("nan"), 12345.678901])
    b = a.copy()
    b.iloc[3] = 12345.678911
    assert column_fingerprint(a) == column_fingerprint(a.copy())
    assert column_fingerprint(a) != column_fingerprint(b)
    assert column_fingerprint(pd.Series([1, 2])) != column_fingerprint(pd.Series([2, 1]))
