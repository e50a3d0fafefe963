"""A trivial trainable for the overhead benchmark: 10 reports, no work."""

from __future__ import annotations

from typing import Any

from sweeprunner.trial import session

REPORTS = 10


def train(config: dict[str, Any]) -> None:
    for i in range(REPORTS):
        session.report({"loss": float(config["x"]) + 1.0 / (i + 1)})
