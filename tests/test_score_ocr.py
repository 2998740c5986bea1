"""OCR engine for pixels_hidden: readable burned-in text fails, hidden text passes, batching is
faithful, and a missing tesseract is said, not silently passed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from midib.score import fuzzy
from midib.score.ocr import OcrEngine

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
ENGINE = OcrEngine()
needs_ocr = pytest.mark.skipif(not ENGINE.available()[0], reason=ENGINE.available()[1])


def font(size: int = 16) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(DEJAVU), size) if DEJAVU.exists() else ImageFont.load_default()


def burn(text: str, *, fg: int = 255, bg: int = 0, size: int = 16, builtin: bool = False,
         blur: float = 0.0, shape: tuple[int, int] = (256, 320), at: tuple[int, int] = (20, 30),
         scale: int = 1) -> tuple[np.ndarray, list[int]]:
    """A frame with ``text`` burned in and the box around it; ``scale`` maps 0..255 to 16 bits."""
    image = Image.new("L", (shape[1], shape[0]), bg)
    draw = ImageDraw.Draw(image)
    face = ImageFont.load_default() if builtin else font(size)
    draw.text(at, text, fill=fg, font=face)
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    x0, y0, x1, y1 = draw.textbbox(at, text, font=face)
    return np.asarray(image).astype(np.uint16) * scale, [x0 - 4, y0 - 4, x1 + 4, y1 + 4]


# --- fuzzy matching (no tesseract needed) -------------------------------------------------

@pytest.mark.parametrize("seen", ["DOE^JOHN", "DOE *JOHN", "D0E J0HN", "doeajohn", "Doe, John"])
def test_fuzzy_finds_name_through_ocr_noise(seen: str) -> None:
    assert fuzzy.match("DOE^JOHN", seen).readable


def test_fuzzy_rejects_fragments_and_ignores_short_tokens() -> None:
    assert not fuzzy.match("DOE^JOHN", "DO JO").found
    assert not fuzzy.match("MRN 4839201", "mn").found  # short readings are not short tokens
    assert not fuzzy.match("19-Jan-2004", "2048").found
    assert fuzzy.match("4839201", "483920").found  # one glyph dropped from a long token
    assert fuzzy.tokens("19-Jan-2004") == ["Jan", "2004"]
    assert fuzzy.tokens("M 45") == ["M", "45"]  # nothing long: short tokens still checked
    partial = fuzzy.match("SMITH^JANE^ANN", "SMITH")
    assert partial.found == ("SMITH",) and not partial.readable
    assert fuzzy.match("SMITH^JANE", "SMITH]").readable  # a surname alone is an identifier


# --- engine ---------------------------------------------------------------------------------

@needs_ocr
@pytest.mark.parametrize("builtin", [False, True])
def test_readable_text_fails(builtin: bool) -> None:
    frame, box = burn("DOE^JOHN 4839201", builtin=builtin)
    verdict = ENGINE.hidden(frame, box, "DOE^JOHN 4839201")
    assert not verdict.passed and verdict.score < 0.5
    assert "4839201" in verdict.observed


@needs_ocr
def test_inverted_polarity_and_16_bit_frames_fail() -> None:
    dark_on_light, box = burn("SMITH^JANE", fg=0, bg=255)
    assert not ENGINE.hidden(dark_on_light, box, "SMITH^JANE").passed
    ct_like, box = burn("SMITH^JANE", scale=16)  # 12-bit range
    assert not ENGINE.hidden(ct_like, box, "SMITH^JANE").passed


@needs_ocr
def test_rgb_frame_text_fails() -> None:
    grey, box = burn("ACC 20240119", fg=200)
    rgb = np.stack([grey, grey, grey // 4], axis=-1).astype(np.uint8)
    assert not ENGINE.hidden(rgb, box, "ACC 20240119").passed


def test_blacked_out_box_passes_without_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    frame, box = burn("DOE^JOHN")
    x0, y0, x1, y1 = box
    frame[y0:y1, x0:x1] = 0
    engine = OcrEngine()
    monkeypatch.setattr(engine, "available", lambda: (True, "test"))
    monkeypatch.setattr(engine, "read_many", lambda crops: pytest.fail("uniform box was OCR'd"))
    verdict = engine.hidden(frame, box, "DOE^JOHN")
    assert verdict.passed and verdict.score == 1.0 and verdict.observed == "uniform"


@needs_ocr
def test_two_line_box_fails() -> None:
    frame, box = burn("COLLINS, JUAN\nID MRN90884308")
    verdict = ENGINE.hidden(frame, box, "COLLINS, JUAN MRN90884308")
    assert not verdict.passed and verdict.score == 0.0


@needs_ocr
def test_heavily_blurred_text_passes() -> None:
    frame, box = burn("DOE^JOHN", blur=5)
    assert ENGINE.hidden(frame, box, "DOE^JOHN").passed


@needs_ocr
def test_partially_covered_text_passes_with_partial_score() -> None:
    frame, box = burn("SMITH JANE ANN", size=18)
    x0, y0, x1, y1 = box
    cut = x0 + (x1 - x0) // 3
    frame[y0:y1, cut:x1] = 0
    verdict = ENGINE.hidden(frame, box, "SMITH JANE ANN")
    assert verdict.passed and verdict.score < 1.0 and verdict.reason == "1/3 tokens readable"


@needs_ocr
def test_text_left_beside_a_white_cover_still_fails() -> None:
    """White cover over half the box: bright pixels are the majority, so the first polarity
    guess is wrong; the inverted reading must still catch the leak."""
    frame, (x0, y0, x1, y1) = burn("DOE^JOHN", size=18)
    cover = [x1, y0, x1 + 2 * (x1 - x0), y1]
    frame[cover[1]:cover[3], cover[0]:cover[2]] = 255
    verdict = ENGINE.hidden(frame, [x0, y0, cover[2], y1], "DOE^JOHN")
    assert not verdict.passed, verdict


@needs_ocr
def test_text_burned_over_textured_image_fails() -> None:
    """White text straight over anatomy-like texture (no label patch): the extreme-level
    reading isolates it from the bright background."""
    rng = np.random.default_rng(1)
    texture = np.kron(rng.integers(120, 230, (32, 40)), np.ones((8, 8))).astype(np.uint8)
    image = Image.fromarray(texture)
    draw = ImageDraw.Draw(image)
    draw.text((40, 60), "MRN 4839201", fill=255, font=font(20))
    x0, y0, x1, y1 = draw.textbbox((40, 60), "MRN 4839201", font=font(20))
    verdict = ENGINE.hidden(np.asarray(image), [x0 - 3, y0 - 3, x1 + 3, y1 + 3], "MRN 4839201")
    assert not verdict.passed, verdict


@needs_ocr
def test_noise_is_not_mistaken_for_text() -> None:
    rng = np.random.default_rng(0)
    frame = rng.normal(128, 30, (120, 300)).clip(0, 255).astype(np.uint8)
    verdict = ENGINE.hidden(frame, [10, 10, 290, 60], "DOE^JOHN 4839201")
    assert verdict.passed


@needs_ocr
def test_batched_verdicts_equal_one_by_one() -> None:
    names = ["DOE^JOHN", "SMITH^JANE", "MRN 4839201", "19-Jan-2004", "St Mary Hospital",
             "555-867-5309"]
    items = []
    for i, name in enumerate(names):
        frame, box = burn(name, fg=0 if i % 2 else 255, bg=255 if i % 2 else 0, size=12 + 3 * i)
        if i == 2:
            frame[box[1]:box[3], box[0]:box[2]] = 0  # hidden
        items.append((frame, box, name))
    batched = ENGINE.hidden_many(items)
    single = [ENGINE.hidden(*item) for item in items]
    assert [v.passed for v in batched] == [v.passed for v in single]
    assert [v.passed for v in batched] == \
        [False, False, True, False, False, False]


@needs_ocr
def test_failed_tesseract_call_fails_the_boxes(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytesseract

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Tesseract process timeout")

    monkeypatch.setattr(pytesseract, "image_to_data", broken)
    frame, box = burn("DOE^JOHN")
    verdict = ENGINE.hidden(frame, box, "DOE^JOHN")
    assert not verdict.passed and "timeout" in verdict.reason


def test_missing_tesseract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    engine = OcrEngine()
    ok, reason = engine.available()
    assert not ok and "tesseract" in reason
    frame, box = burn("DOE^JOHN")
    with pytest.raises(RuntimeError, match="OCR unavailable"):
        engine.hidden_many([(frame, box, "DOE^JOHN")])


def test_box_outside_frame_cannot_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = OcrEngine()
    monkeypatch.setattr(engine, "available", lambda: (True, "test"))
    frame, _ = burn("DOE^JOHN")
    verdict = engine.hidden(frame, [1000, 1000, 1100, 1040], "DOE^JOHN")
    assert not verdict.passed and "outside" in verdict.reason


@needs_ocr
def test_generator_labels_read_and_hidden(mini_bench: Path) -> None:
    """Calibration on the generator's own burned-in labels (all fonts, sizes, polarities):
    every label left in place is read as a leak, every label blacked out passes."""
    import pydicom

    from midib.answer_key import read_key
    from midib.benchmark import Benchmark
    from midib.score.pixels import frame as decode

    bench = Benchmark.open(mini_bench)
    checks = [c for c in read_key(bench.checks_path) if c.action == "pixels_hidden"]
    assert checks, "the mini benchmark is expected to burn text into some images"
    frames: dict[tuple[str, int], np.ndarray] = {}
    left, covered = [], []
    for c in checks:
        key = (c.file, int(c.expected.get("frame", 0)))
        if key not in frames:
            frames[key] = decode(pydicom.dcmread(bench.input_dir / c.file), key[1])
        x0, y0, x1, y1 = c.expected["box"]
        blank = frames[key].copy()
        blank[y0:y1, x0:x1] = 0
        left.append((frames[key], c.expected["box"], c.expected["text"]))
        covered.append((blank, c.expected["box"], c.expected["text"]))
    missed = [(t, v.observed) for (_, _, t), v in zip(left, ENGINE.hidden_many(left)) if v.passed]
    assert not missed
    assert all(v.passed and v.observed == "uniform" for v in ENGINE.hidden_many(covered))


def test_words_are_assigned_to_their_crop_by_y() -> None:
    from midib.score.ocr import GAP, assign_words

    spans = [(0, 40), (40 + GAP, 100 + GAP), (100 + 2 * GAP, 130 + 2 * GAP)]
    # boundaries mid-gap: y = 40 + GAP/2 = 52 between crops 0 and 1
    data = {"text": ["DOE", "", "TAIL", "SMITH", "EDGE", "LAST"],
            "top": [10, 0, 40, 40 + GAP + 1, 50, 100 + 2 * GAP + 5],
            "height": [20, 5, 10, 15, 10, 10]}
    assert assign_words(data, spans) == ["DOE TAIL", "SMITH EDGE", "LAST"]


def test_batches_do_not_depend_on_workers() -> None:
    from midib.score.ocr import BATCH_SIZE, batches

    crops = [np.zeros((30 + i % 7, 100), dtype=np.uint8) for i in range(2 * BATCH_SIZE + 3)]
    groups = batches(crops)
    assert [i for g in groups for i in g] == list(range(len(crops)))
    # balanced: the largest batch is the wall time, so 83 crops are 28 + 28 + 27, not 40 + 40 + 3
    assert [len(g) for g in groups] == [28, 28, 27]


def test_batches_split_small_jobs_in_two_and_respect_the_height_limit() -> None:
    from midib.score.ocr import MAX_BATCH_HEIGHT, MIN_SPLIT, batches

    small = [np.zeros((30, 100), dtype=np.uint8)] * (MIN_SPLIT - 1)
    assert [len(g) for g in batches(small)] == [MIN_SPLIT - 1]
    assert [len(g) for g in batches(small + small[:1])] == [MIN_SPLIT // 2, MIN_SPLIT // 2]
    tall = [np.zeros((MAX_BATCH_HEIGHT // 3, 100), dtype=np.uint8)] * 6
    assert [len(g) for g in batches(tall)] == [2, 2, 2]
    assert batches([]) == []


def test_probing_and_running_ocr_does_not_import_pandas() -> None:
    """pytesseract imports pandas only for DataFrame output, which midib never asks for: every
    scoring process that OCRs would pay ~45 MB for it."""
    import subprocess
    import sys
    code = ("import sys, numpy as np; from midib.score.ocr import OcrEngine; e = OcrEngine(); "
            "ok, _ = e.available(); "
            "ok and e.hidden_many([(np.zeros((20, 40), np.uint8) + np.eye(20, 40, dtype=np.uint8) * 200, "
            "[0, 0, 40, 20], 'DOE')]); "
            "print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
