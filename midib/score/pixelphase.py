"""The pixel phase: pixel checks judged per instance in work units, OCR in large batches.

Pixel checks need the pixels of the source and of the output (:mod:`midib.score.pixelstage`)
and, for burned-in text, tesseract. A tesseract start costs ~120 ms, so OCR is only cheap in
large batches (≈18 ms per box for a few hundred boxes, ≈37 ms per box in per-series batches):
the units return their crops to the parent, which OCRs them ``OCR_BATCH`` at a time as they
arrive. Crops never pile up beyond one batch, and the verdicts (one small object per pixel
check) are what the key units later read. Batches follow unit order, which does not depend
on --jobs, and batched OCR equals box-by-box OCR (tests/test_score_ocr.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
import pickle
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

from midib.answer_key import Check
from midib.score import diskmap, pixelstage, workunits
from midib.score.matching import MatchResult
from midib.score.verdict import Verdict

#: instances per pixel unit, and crops per OCR batch
PIXEL_UNIT = 8
OCR_BATCH = 256
#: pixel units submitted and not yet consumed (they wait for the parent's OCR batches)
WINDOW = 16


def _pixel_items(checks: Union[Iterable[Check], Mapping[str, list[Check]]], match: MatchResult,
                 input_dir: Path, out_root: Path) -> Iterator[tuple[list[Check], Optional[str], str]]:
    """(pixel checks, source path, output path) of each matched instance with pixel checks, in
    instance order; read from the key's index one instance at a time as units are taken (a list
    of them all held every pixel check of the run in the parent)."""
    if isinstance(checks, Mapping):
        found_of: Callable[[str], list[Check]] = lambda inst: list(checks.get(inst, ()))
    else:  # checks in memory already: grouped here
        grouped: dict[str, list[Check]] = defaultdict(list)
        for c in checks:
            if c.instance in match.pairs:
                grouped[c.instance].append(c)
        found_of = lambda inst: grouped.get(inst, [])  # noqa: E731
    for inst in sorted(match.pairs):
        found = found_of(inst)
        if found:
            yield (found, str(input_dir / found[0].file) if found[0].file else None,
                   str(out_root / match.pairs[inst].file))


def pixel_unit(items: list[tuple[list[Check], Optional[str], str]],
               use_ocr: bool = True) -> list[tuple[dict, list, int]]:
    """Pixel verdicts for a few instances, (checks, source path, output path) each: the verdicts,
    the crops left for OCR and how many boxes were settled here without it."""
    out = []
    for checks, src, dst in items:
        job = pixelstage.PixelJob()
        verdicts = pixelstage.instance_verdicts(checks, Path(src) if src else None, Path(dst), job)
        boxes = len(job.crops)
        verdicts.update(pixelstage.settle_without_ocr(job, use_ocr))
        out.append((verdicts, job.crops, boxes - len(job.crops)))
    return out


def pixel_verdicts(ex: Any, checks: Union[Iterable[Check], Mapping[str, list[Check]]], match: MatchResult,
                   input_dir: Path, out_root: Path, use_ocr: bool, stats: pixelstage.OcrStats,
                   store: Optional[Path] = None) -> Mapping[str, Verdict]:
    """Verdicts of every pixel check of a matched instance (unmatched ones fail in the key units).
    ``checks``: the pixel checks, or instance -> its pixel checks (the key index keeps them so,
    on disk: only the matched instances' are read). With ``store`` (an SQLite file), the
    verdicts are written there as they are settled and returned as a :class:`DiskMap` (one
    small object per pixel check otherwise stays in the parent and every forked worker)."""
    if store is None:
        found: dict[str, Verdict] = {}
        _judge_pixels(ex, checks, match, input_dir, out_root, use_ocr, stats, found.update)
        return found
    from midib.score.records import scratch_writes
    with scratch_writes(store):
        writer = diskmap.Writer(store, ("verdicts",))
    with writer:
        def emit(found: dict[str, Verdict]) -> None:
            with scratch_writes(store):
                writer.add("verdicts", ((k, pickle.dumps(v, pickle.HIGHEST_PROTOCOL)) for k, v in found.items()))
        _judge_pixels(ex, checks, match, input_dir, out_root, use_ocr, stats, emit)
    with scratch_writes(store):
        return writer.finish(raw=False)["verdicts"]


def _judge_pixels(ex: Any, checks: Union[Iterable[Check], Mapping[str, list[Check]]], match: MatchResult,
                  input_dir: Path, out_root: Path, use_ocr: bool, stats: pixelstage.OcrStats,
                  emit: Callable[[dict[str, Verdict]], None]) -> None:
    """Judge every pixel check of a matched instance, handing the verdicts to ``emit`` as
    they are known (a unit's boxes that need no OCR at once, the others batch by batch)."""
    items = _pixel_items(checks, match, input_dir, out_root)
    pending = pixelstage.PixelJob()
    pixelstage.run_ocr(pixelstage.PixelJob(), use_ocr, stats)  # availability, even with no box
    boxes, seconds = 0, 0.0
    units = workunits.batched(items, PIXEL_UNIT)
    for unit in workunits.ordered_map(ex, partial(pixel_unit, use_ocr=use_ocr), units, WINDOW):
        for found, crops, settled in unit:
            emit(found)
            pending.crops.extend(crops)
            boxes += settled
        if len(pending.crops) >= OCR_BATCH:
            emit(pixelstage.run_ocr(pending, use_ocr, stats))
            boxes, seconds = boxes + stats.boxes, seconds + stats.seconds
            pending = pixelstage.PixelJob()
    emit(pixelstage.run_ocr(pending, use_ocr, stats))
    stats.boxes, stats.seconds = boxes + stats.boxes, seconds + stats.seconds
