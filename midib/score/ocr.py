"""OCR engine for ``pixels_hidden``: is burned-in PHI text still readable inside its box?

Tesseract costs ~120 ms per process start here, far above the 30 ms per box budget, so boxes
are never OCR'd one by one: every crop is normalised (grey levels stretched, dark text on white,
upscaled to the text height tesseract reads best), the crops are stacked into tall images
separated by white gaps, tesseract runs once per batch of BATCH_SIZE crops (batches run in
parallel, one per core), and each word is assigned back to its crop by its y coordinate. Boxes already (nearly) uniform,
which is what a correct de-identifier leaves, pass without OCR at all.

Reading is tolerant (see :mod:`midib.score.fuzzy`): the text counts as readable when at least
half of its tokens are found. A box that looks hidden under the assumed polarity is read again
inverted, then on its extreme grey levels only, so white text beside a white cover or burned
over anatomy cannot slip through.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from midib.score import fuzzy
from midib.score.pixels import luminance
from midib.score.verdict import Verdict

#: a box whose grey levels (0..255 over the frame's range) vary less than this is "uniform"
UNIFORM_STD = 2.0
#: ink height (px) crops are scaled to: 24 read every crisp test text (20: 98%), and costs
#: 25% less tesseract time than 32 (tesseract time grows with image area)
TARGET_INK_HEIGHT = 24
MAX_UPSCALE = 6.0
MARGIN = 12          # white border around each crop (px)
GAP = 24             # white rows between stacked crops (px)
MAX_BATCH_HEIGHT = 30000  # stay well under leptonica's image size limits
#: crops per tesseract call: ~120 ms start-up spread over 40 crops is ~3 ms each
BATCH_SIZE = 40
#: from this many crops on, use at least two batches so two cores share even a small job
MIN_SPLIT = 16
TESSERACT_CONFIG = "--psm 6 -c tessedit_do_invert=0"
#: grey-level band (fraction of the range) taken as ink by the ``bright``/``dark`` readings
EXTREME = 0.12
#: readings tried in turn on a box not yet found readable: the polarity guess, its inverse, then
#: only the brightest / darkest levels (burned-in text is drawn at an extreme of the range)
READINGS = ("guess", "inverted", "bright", "dark")

Item = tuple[np.ndarray, list[int], str]


@dataclass
class Reading:
    """What OCR saw in one box (both polarities joined) and how much of the text it found."""

    text: str
    match: fuzzy.TokenMatch

    def add(self, text: str, match: fuzzy.TokenMatch) -> "Reading":
        """This reading and another of the same box: texts joined, found tokens united."""
        joined = f"{self.text} | {text}" if self.text and text else self.text or text
        return Reading(joined, self.match.union(match))


def to_gray8(frame: np.ndarray, box: list[int]) -> np.ndarray:
    """The box's crop as float grey levels 0..255 scaled by the *frame's* range (any bit depth)."""
    x0, y0, x1, y1 = box
    height, width = frame.shape[0], frame.shape[1]
    crop = luminance(frame[max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)])
    lo, hi = float(frame.min()), float(frame.max())
    return (crop - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(crop)


def ink_height(ink: np.ndarray) -> int:
    """Longest run of consecutive rows holding ink: the height of one text line.

    Solid columns (a cover a tool painted over part of the box) are not text and are skipped,
    or they would make every box look one line tall and the text would not be upscaled.
    """
    text_columns = ink.mean(axis=0) < 0.9
    if text_columns.any():
        ink = ink[:, text_columns]
    best = run = 0
    for has_ink in ink.any(axis=1):
        run = run + 1 if has_ink else 0
        best = max(best, run)
    return max(best, 1)


def normalise(gray: np.ndarray, mode: str = "guess") -> np.ndarray:
    """Dark text on white, grey levels stretched to 0..255, upscaled to TARGET_INK_HEIGHT.

    ``guess``: the minority side of an Otsu split is ink (text covers less of a box than its
    background); ``inverted``: the other side; ``bright``/``dark``: only the extreme grey levels
    are ink, which lifts text burned straight over anatomy out of a textured background.
    """
    # imported here: skimage.filters pulls in scipy (~0.25 s), which a run whose boxes are all
    # uniform (blacked out) never needs
    from skimage.filters import threshold_otsu

    stretched = (gray - gray.min()) * (255.0 / max(float(np.ptp(gray)), 1e-9))
    if mode in ("bright", "dark"):
        ink = stretched >= 255 * (1 - EXTREME) if mode == "bright" else stretched <= 255 * EXTREME
        stretched = np.where(ink, 0.0, 255.0)
    else:
        bright = stretched > threshold_otsu(stretched)
        text_is_bright = (bright.mean() <= 0.5) != (mode == "inverted")
        ink = bright if text_is_bright else ~bright
        stretched = 255.0 - stretched if text_is_bright else stretched
    scale = min(max(TARGET_INK_HEIGHT / ink_height(ink), 1.0), MAX_UPSCALE)
    image = Image.fromarray(stretched.astype(np.uint8))
    if scale > 1.0:
        size = (round(image.width * scale), round(image.height * scale))
        image = image.resize(size, Image.Resampling.LANCZOS)
    # kept grey, not binarised: tesseract reads blurred text far better from grey levels
    # (measured: 14 px text blurred sigma 1.5, 4/8 read vs 0/8 after Otsu binarisation)
    return np.pad(np.asarray(image, dtype=np.uint8), MARGIN, constant_values=255)


def stack(crops: list[np.ndarray]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Crops one above the other on white, GAP apart; returns the image and each crop's y-span."""
    width = max(c.shape[1] for c in crops)
    height = sum(c.shape[0] for c in crops) + GAP * (len(crops) - 1)
    canvas = np.full((height, width), 255, dtype=np.uint8)
    spans, y = [], 0
    for crop in crops:
        canvas[y:y + crop.shape[0], :crop.shape[1]] = crop
        spans.append((y, y + crop.shape[0]))
        y += crop.shape[0] + GAP
    return canvas, spans


def assign_words(data: dict[str, list], spans: list[tuple[int, int]]) -> list[str]:
    """Per crop, the words tesseract found whose vertical centre lies in that crop's span."""
    words: list[list[str]] = [[] for _ in spans]
    starts = [s for s, _ in spans]
    for text, top, height in zip(data["text"], data["top"], data["height"]):
        if not str(text).strip():
            continue
        centre = int(top) + int(height) / 2
        # crop i owns [start_i - GAP/2, start_(i+1) - GAP/2): boundaries mid-gap
        index = int(np.searchsorted(starts, centre + GAP / 2, side="right")) - 1
        if 0 <= index < len(spans):
            words[index].append(str(text).strip())
    return [" ".join(w) for w in words]


def batches(crops: list[np.ndarray]) -> list[list[int]]:
    """Split crop indices, in order, into balanced batches of at most BATCH_SIZE crops, each
    under MAX_BATCH_HEIGHT.

    Balanced because the batches run in parallel and the largest one is the wall time: 50 boxes
    as 25 + 25 finish in the time of 25, as 40 + 10 in the time of 40 (and from MIN_SPLIT crops
    on there are at least two batches, one more ~100 ms start-up for half the wall time). The split depends on the
    crops only, never on the number of workers, so verdicts are the same on a 2-core laptop and
    a 64-core server (tesseract's reading of a crop can depend a little on the page it sits on).
    """
    count = max(-(-len(crops) // BATCH_SIZE), 2 if len(crops) >= MIN_SPLIT else 1)
    size = -(-len(crops) // count)
    groups: list[list[int]] = [[]]
    height = 0
    for i, crop in enumerate(crops):
        if groups[-1] and (len(groups[-1]) >= size or height + crop.shape[0] > MAX_BATCH_HEIGHT):
            groups.append([])
            height = 0
        groups[-1].append(i)
        height += crop.shape[0] + GAP
    return [g for g in groups if g]


class OcrEngine:
    """Batched tesseract reader answering "is this text still readable in this box?"."""

    def __init__(self, lang: str = "eng", workers: int | None = None) -> None:
        self.lang = lang
        self.workers = workers or os.cpu_count() or 1
        self._available: tuple[bool, str] | None = None
        # tesseract's OpenMP threads fight our one-process-per-core batches (pytesseract passes
        # os.environ to the child); respect a value the user set.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")

    def available(self) -> tuple[bool, str]:
        """(True, version) when pytesseract, the tesseract binary and the language are present."""
        if self._available is None:
            self._available = self._probe()
        return self._available

    def _probe(self) -> tuple[bool, str]:
        try:
            pytesseract = _pytesseract()
        except ImportError:
            return False, "pytesseract is not installed"
        binary = shutil.which(pytesseract.pytesseract.tesseract_cmd)
        if binary is None:
            return False, "tesseract is not installed (no 'tesseract' on PATH)"
        return _probe_binary(binary, self.lang)

    def hidden(self, frame: np.ndarray, box: list[int], text: str) -> Verdict:
        """One box; prefer :meth:`hidden_many`, which amortises tesseract's start-up."""
        return self.hidden_many([(frame, box, text)])[0]

    def hidden_many(self, items: list[Item]) -> list[Verdict]:
        """For each (frame, box, expected text): pass when the text is NOT readable in the box."""
        ok, reason = self.available()
        if not ok:
            raise RuntimeError(f"OCR unavailable: {reason}")
        grays = [to_gray8(frame, box) for frame, box, _ in items]
        verdicts: list[Verdict | None] = [None] * len(items)
        todo = []
        for i, gray in enumerate(grays):
            if gray.size == 0:
                verdicts[i] = Verdict.fail(f"box {items[i][1]} lies outside the frame "
                                           f"{items[i][0].shape[:2]}: cannot verify")
            elif float(gray.std()) < UNIFORM_STD:
                verdicts[i] = Verdict.ok(observed="uniform")
            else:
                todo.append(i)
        readings = self._read(items, grays, todo)
        for i in todo:
            verdicts[i] = judge(readings[i])
        return [v for v in verdicts if v is not None]

    def _read(self, items: list[Item], grays: list[np.ndarray], todo: list[int]) -> dict[int, Reading]:
        """OCR the boxes in ``todo``: the polarity guess first, then, for the boxes not found
        readable, every other reading of READINGS in one more round (one tesseract start).

        Boxes a correct tool left are uniform and never get here; only boxes still holding
        something (text, blur, noise) pay for the extra readings.
        """
        readings = {i: Reading("", fuzzy.match(items[i][2], "")) for i in todo}
        rounds = [READINGS[:1], READINGS[1:]]
        pending = list(todo)
        for modes in rounds:
            jobs = [(i, mode) for i in pending for mode in modes]
            if not jobs:
                break
            texts = self.read_many([normalise(grays[i], mode) for i, mode in jobs])
            for (i, _), text in zip(jobs, texts):
                readings[i] = readings[i].add(text, fuzzy.match(items[i][2], text))
            pending = [i for i in pending if not readings[i].match.readable]
        return readings

    def read_many(self, crops: list[np.ndarray]) -> list[str]:
        """OCR text of each normalised crop, with one tesseract call per batch, batches in parallel.

        A failed batch yields None texts for its crops, which :func:`judge` turns into failures
        (never a silent pass).
        """
        if not crops:
            return []
        groups = batches(crops)
        with ThreadPoolExecutor(max_workers=min(self.workers, len(groups))) as pool:
            results = list(pool.map(lambda g: self._read_batch([crops[i] for i in g]), groups))
        texts: list[str] = [""] * len(crops)
        for group, result in zip(groups, results):
            for i, text in zip(group, result):
                texts[i] = text
        return texts

    def _read_batch(self, crops: list[np.ndarray]) -> list[str]:
        pytesseract = _pytesseract()
        image, spans = stack(crops)
        try:
            data = pytesseract.image_to_data(Image.fromarray(image), lang=self.lang,
                                             config=TESSERACT_CONFIG, timeout=30 + len(crops),
                                             output_type=pytesseract.Output.DICT)
        except Exception as exc:  # TesseractError, timeout RuntimeError, OSError
            return [f"{OCR_FAILED}{type(exc).__name__}: {exc}".replace("\n", " ")] * len(crops)
        return assign_words(data, spans)


OCR_FAILED = "\x00ocr failed: "


@functools.lru_cache(maxsize=8)
def _pytesseract() -> Any:
    """pytesseract, imported without pandas: it imports pandas only to offer DataFrame output,
    which midib never asks for, and that import costs ~0.3 s and ~45 MB in every scoring
    process that probes or runs OCR. (If pandas is already loaded, it is simply reused.)"""
    if "pytesseract" in sys.modules or "pandas" in sys.modules:
        import pytesseract
        return pytesseract
    sys.modules["pandas"] = None  # type: ignore[assignment]  # "import pandas" -> ImportError
    try:
        import pytesseract
    finally:
        del sys.modules["pandas"]
    return pytesseract


def _probe_binary(binary: str, lang: str) -> tuple[bool, str]:
    """Version and language check of one tesseract binary, once per process: it costs two
    tesseract starts (~0.2 s), paid by every engine the scorer and the tests create otherwise."""
    pytesseract = _pytesseract()
    try:
        version = str(pytesseract.get_tesseract_version())
        languages = pytesseract.get_languages(config="")
    except Exception as exc:  # broken installs raise assorted errors
        return False, f"tesseract does not run: {exc}"
    if lang not in languages:
        return False, f"tesseract has no '{lang}' language data"
    return True, f"tesseract {version}"


def judge(reading: Reading) -> Verdict:
    """Readable (see :attr:`fuzzy.TokenMatch.readable`) -> fail; else pass, score = 1 - found."""
    found, score = reading.match.found, 1.0 - reading.match.fraction
    if reading.match.readable:
        return Verdict.fail(f"text readable in box: {len(found)}/{reading.match.total} tokens "
                            f"found ({' '.join(found)})", observed=reading.text.replace(OCR_FAILED, ""),
                            score=score)
    if OCR_FAILED in reading.text:  # unscorable is never a pass
        return Verdict.fail(reading.text.split(OCR_FAILED, 1)[1].split(" | ")[0], observed="")
    note = f"{len(found)}/{reading.match.total} tokens readable" if found else ""
    return Verdict(True, score, reading.text, note)
