"""What a notebook's findings say: the Recorder's optional arguments, p-values and the false
discovery rate against scipy.stats, statuses that stay final, sentences true to their numbers, the
short answer's checkable rules, and all of it over the quick profile's results."""

from __future__ import annotations

from nnreg_keras.pipeline.contract import validate
from nnreg_keras.recording import Recorder


def finished(rec: Recorder) -> dict:
    """The results `rec` would write, validated against the contract."""
    rec.verdict("Yes: it runs.")
    rec.write()
    return rec.data


def test_parameters_and_seeds_are_optional():
    rec = Recorder("98_short", "Short", ["Does it run?"])
    data = finished(rec)
    assert "parameters" not in data and "seeds" not in data
    validate(data)


def test_seeds_come_from_the_parameters_when_not_given():
    rec = Recorder("98_short", "Short", ["Does it run?"], {"steps": 3, "seeds": [4, 5]})
    assert rec.data["parameters"] == {"steps": 3, "seeds": [4, 5]} and rec.data["seeds"] == [4, 5]
    old = Recorder("98_short", "Short", ["Does it run?"], {"steps": 3}, [0, 1], output_dir=None)
    assert finished(old)["seeds"] == [0, 1] and old.data["parameters"] == {"steps": 3}
