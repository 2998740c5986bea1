"""Text drawn rather than written: in an overlay plane, and in a picture left among the outputs.

An overlay (PS3.3 C.9) is a one-bit plane shown over the image: ultrasound and CR devices
draw annotations there, and a name drawn there is as readable on screen as one burned into the
pixels, while the byte sweep sees only bits. The answer key judges the planes the generator
drew (``overlay_hidden``, OCR of their boxes); any other plane holding a drawing (one a tool
added, or moved to another group) is read here by OCR, where the scorer runs OCR, after
matching (:func:`midib.score.observation.sweep_drawn`, one engine call for all the planes of
an instance or a unit), and its text is swept like any value at the plane's OverlayData path.
On a benchmark whose only planes are the key's, nothing is read.

A PNG or JPEG left among the outputs (a preview, a screenshot of the viewer) is no DICOM file,
but a name drawn in it is a leak all the same: such a picture is read by OCR the same way
(:func:`picture_images`), and what it says swept at ``(drawn text)``.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Callable, Optional

import numpy as np

#: reads normalised planes: text per plane (:func:`tesseract_reader`)
Reader = Callable[[list[np.ndarray]], list[str]]
#: a plane larger than this on a side is read on its drawn part only, at most this large
MAX_SIDE = 2048
MARGIN = 8
#: the largest picture or frame decoded (pixels x samples): a header may claim 65535 x 65535,
#: and the scorer's memory stays within a few hundred megabytes
FRAME_SAMPLES_MAX = 16 * 1024 * 1024


def overlay_group(tag: int) -> Optional[int]:
    """The overlay group (0x6000..0x601E, even) of an OverlayData tag, else None."""
    group = tag >> 16
    if tag & 0xFFFF == 0x3000 and 0x6000 <= group <= 0x601E and not group & 1:
        return group
    return None


def plane_images(path: Path, groups: tuple[int, ...]) -> list[tuple[int, np.ndarray]]:
    """(group, image for OCR) of each overlay plane of ``groups`` in ``path`` holding a drawing."""
    if not groups:
        return []
    import pydicom
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        except Exception:
            return []
        return [(g, image) for g in groups if (image := _plane_image(ds, g)) is not None]


def read(images: list[np.ndarray], reader: Reader) -> list[str]:
    """OCR text of each image ("" where it failed): one ``reader`` call for all."""
    if not images:
        return []
    try:
        texts = list(reader(images))
    except Exception:
        return [""] * len(images)
    return texts + [""] * (len(images) - len(texts))


def _plane_image(ds, group: int) -> Optional[np.ndarray]:
    """The drawn part of one plane, normalised for OCR (dark on white), or None."""
    from midib.score.ocr import normalise
    try:
        bits = np.asarray(ds.overlay_array(group))
    except Exception:
        return None
    if bits.ndim == 3:
        bits = bits[0]
    if bits.ndim != 2 or not bits.any() or bits.all():
        return None
    rows, cols = np.nonzero(bits)
    y0, y1 = max(int(rows.min()) - MARGIN, 0), int(rows.max()) + MARGIN + 1
    x0, x1 = max(int(cols.min()) - MARGIN, 0), int(cols.max()) + MARGIN + 1
    drawn = bits[y0:min(y1, y0 + MAX_SIDE), x0:min(x1, x0 + MAX_SIDE)]
    return normalise(np.where(drawn > 0, 255.0, 0.0))


_ENGINE: list = []


def tesseract_reader(planes: list[np.ndarray]) -> list[str]:
    """OCR of normalised planes with midib's engine (one per process, made on first need);
    nothing when tesseract is not installed (the scorer reports OCR as unavailable)."""
    if not _ENGINE:
        from midib.score.ocr import OcrEngine
        engine = OcrEngine(workers=1)
        _ENGINE.append(engine if engine.available()[0] else None)
    engine = _ENGINE[0]
    if engine is None:
        return []
    from midib.score.ocr import OCR_FAILED
    return ["" if t.startswith(OCR_FAILED) else t for t in engine.read_many(planes)]


#: where the sweep reports text OCR read in a picture left among the outputs
PICTURE = "(drawn text)"
_PICTURE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*", b"BM")


def picture_images(path: Path) -> list[np.ndarray]:
    """A picture file (PNG, JPEG, GIF, TIFF, BMP: a preview or a screenshot a tool or a person
    left among the outputs) as images for OCR, at most MAX_SIDE on a side: its brightest grey
    levels as ink, then its darkest (text written over an image is the one or the other; read
    whole, the image's texture drowns it). Nothing for any other file, a picture PIL cannot
    decode, a decompression bomb or a uniform picture."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return []
    if not head.startswith(_PICTURE_MAGIC):
        return []
    from PIL import Image
    try:
        with Image.open(path) as im:
            if im.width * im.height > FRAME_SAMPLES_MAX:   # a bomb, or memory the scorer has not: not decoded
                return []
            im.thumbnail((MAX_SIDE, MAX_SIDE))
            gray = np.asarray(im.convert("L"), dtype=np.float64)
    except Exception:
        return []
    return inked(gray)


def inked(gray: np.ndarray) -> list[np.ndarray]:
    """A grey picture as OCR pages: its brightest quarter of grey levels as ink, then its
    darkest (where either is less than half the picture); nothing for a uniform one."""
    from midib.score.ocr import normalise
    if gray.size == 0 or float(np.ptp(gray)) < 8:
        return []
    stretched = (gray - gray.min()) * (255.0 / float(np.ptp(gray)))
    # the quarter of grey levels at each end: a JPEG's ringing thins strokes the narrower
    # extremes of :func:`midib.score.ocr.normalise` would cut (JOHN read as JGHMN)
    return [normalise(np.where(ink, 0.0, 255.0)) for ink in (stretched >= 191.0, stretched <= 64.0)
            if 0 < ink.mean() < 0.5]


#: extra DICOM outputs (claimed by no source) whose first frame is read by OCR, per run: a
#: submission whose every output failed to match must not cost an OCR pass of each
EXTRA_FRAMES_MAX = 20


def frame_images(path: Path) -> list[np.ndarray]:
    """The first frame of a DICOM output no source claimed, as OCR pages (:func:`inked`): an
    extra secondary capture can carry a name in its pixels only, with a clean header. Decoded
    as matching decodes an output (:func:`midib.score.fingerprint.stored_frame`, with its
    guards against hostile sizes)."""
    from midib.score.fingerprint import stored_frame
    frame = stored_frame(path)
    if frame is None or frame.ndim not in (2, 3) or frame.size > FRAME_SAMPLES_MAX:
        return []
    step = max(1, int(np.ceil(max(frame.shape[:2]) / MAX_SIDE)))
    frame = frame[::step, ::step].astype(np.float64)   # reduced before it is widened
    return inked(frame.mean(axis=-1) if frame.ndim == 3 else frame)   # colour: its samples' mean


#: digits OCR reads for look-alike capitals (J0HN, D0E, 5MITH, 8ROWN)
_LOOKALIKE = str.maketrans("01586", "OISBG")
_TOKEN = re.compile(r"[A-Za-z0-9]+")


def readings(text: str) -> list[str]:
    """``text`` as OCR gave it, then (if it differs) with the digits inside words that also
    hold letters read as the capitals they resemble: ``PAT: D0E, J0HN`` is DOE^JOHN. The first
    reading keeps identifiers (``MRN123456``) as they are."""
    def letters(m: re.Match) -> str:
        token = m.group(0)
        if token.isdigit() or token.isalpha():
            return token
        return token.translate(_LOOKALIKE)
    fixed = _TOKEN.sub(letters, text)
    return [text] if fixed == text else [text, fixed]
