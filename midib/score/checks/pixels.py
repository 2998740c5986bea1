"""Checks on pixels (pixels_hidden, pixels_retained, overlay_hidden).

Pixel checks need decoded frames and, for burned-in text, OCR, which is far cheaper in batches
(one tesseract engine for many boxes). So the scorer computes their verdicts per instance in
:mod:`midib.score.pixelstage` and hands them here as ``observed.precomputed``; these functions
only refuse to pass a pixel check that was never computed.
"""

from __future__ import annotations

from midib.answer_key import Check
from midib.score.checks import Observed, register
from midib.score.verdict import Verdict


def _precomputed(check: Check, observed: Observed) -> Verdict:
    if observed.precomputed is None:
        return Verdict.fail(f"{check.action} was not evaluated (pixel stage did not run)")
    return observed.precomputed


for _action in ("pixels_hidden", "pixels_retained", "overlay_hidden"):
    register(_action)(_precomputed)
