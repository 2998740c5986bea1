"""A pixel fingerprint that survives de-identification: block means outside the PHI boxes.

Matching uses it to settle ties (same SOP class, size and geometry), to pair outputs whose
InstanceNumber/geometry changed, and to *confirm* a source that is the only one with the
output's header features. Header features are easily shared (slice 3 of every chest CT of one
protocol), so an unrelated image must not be paired, and pass that source's "removed" checks,
just because it is the only free twin. Frames are decoded (a new transfer syntax does not
matter) and reduced to block means (lossy re-encoding barely moves them); the ledger's PHI boxes
are left out (masking burned-in text does not matter).

Two measures, because they answer two questions. Ties pick the closest of like sources with
16x16 means (:func:`distance`, :data:`MAX_DISTANCE`). Confirmation must tell an image from a
like one: the generator's phantoms of one protocol are 0.003-0.08 apart on that measure, so it
uses 32x32 means over the blocks the output did not leave uniform (:func:`confirm_distance`,
:data:`CONFIRM_DISTANCE`, figures by ``benchmarks/bench_match.py``).

Cost: almost every real tool renames every UID, so every output is content-matched and
confirmed. The sources' thumbnails are computed once per benchmark version, in parallel, and
kept in the user's cache (:class:`Thumbnails`); each output costs one frame read, in parallel,
through the raw-bytes walker of :mod:`midib.score.rawpixels` when its layout is plain.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from collections import OrderedDict
from collections.abc import Collection, Iterator, Mapping
from typing import Any, Optional

import numpy as np
import pydicom

from midib.score import rawpixels
from midib.score.observation import OutputRecord
from midib.score.wording import MIN_TEXT_OVERLAP, jaccard, text_words

GRID = 16
#: mean absolute difference of normalised block means under which two frames are "the same image"
MAX_DISTANCE = 0.05


def first_frame(path: Path) -> Optional[np.ndarray]:
    """The first decoded frame as float64 (RGB as HxWx3), or None (no pixels, not decodable)."""
    px = stored_frame(path)
    return None if px is None else np.asarray(px, dtype=np.float64)


def stored_frame(path: Path) -> Optional[np.ndarray]:
    """The first decoded frame in its stored type, or None (no pixels, not decodable).

    The raw path gives exactly pydicom's values for the layouts it accepts (plain native
    samples; YBR is left to pydicom, which converts it to RGB) at a fraction of the cost.
    """
    px = _raw_first_frame(path)
    if px is None:
        try:
            from midib.score.pixels import frame
            px = frame(pydicom.dcmread(path, force=True), 0)
        except Exception:
            return None
    return px


def _raw_first_frame(path: Path) -> Optional[np.ndarray]:
    raw = rawpixels.scan(path)
    found = rawpixels.layout(raw) if raw is not None and raw.span else None
    if raw is None or found is None or found[0].startswith("YBR"):
        return None
    _, planar, rows, columns, bits, stored, signed, samples, _ = found
    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
    px = np.frombuffer(raw.data, dtype, count=rows * columns * samples, offset=raw.span[0])
    if stored < bits:  # like pydicom: unused high bits masked off (signed: sign-extended)
        shift = bits - stored
        px = (px << shift) >> shift
    if samples == 1:
        return px.reshape(rows, columns)
    return px.reshape(samples, rows, columns).transpose(1, 2, 0) if planar else px.reshape(rows, columns, samples)


def thumbnail(pixels: np.ndarray, boxes: list[list[int]]) -> np.ndarray:
    """16x16 block means of ``pixels`` (grey), with ``boxes`` blanked to 0 first."""
    img = pixels.mean(axis=-1) if pixels.ndim == 3 else pixels.copy()
    for x0, y0, x1, y1 in boxes:
        img[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = 0
    h, w = img.shape
    ys = np.linspace(0, h, GRID + 1).astype(int)[:-1]
    xs = np.linspace(0, w, GRID + 1).astype(int)[:-1]
    sums = np.add.reduceat(np.add.reduceat(img, ys, axis=0), xs, axis=1)
    rows = np.diff(np.append(ys, h))[:, None]
    cols = np.diff(np.append(xs, w))[None, :]
    return sums / np.maximum(rows * cols, 1)


class BoxedThumbnails:
    """:func:`thumbnail` of one frame for many sets of boxes, at the cost of one.

    Ties are weighed against every like source, each with its own PHI boxes, so an output's
    thumbnail was computed once per candidate: at `midi-b`, hundreds of same-size CR/DX/US
    images, each a full pass over the frame, made content matching superlinear. Here the
    frame's block sums are taken once; a set of boxes then subtracts the sums of the pixels
    under their union, which costs the boxes' area. For a frame of integer values (every
    grey DICOM frame) the result is exactly :func:`thumbnail`'s: the float64 sums are exact.
    """

    def __init__(self, pixels: np.ndarray) -> None:
        img = pixels.mean(axis=-1) if pixels.ndim == 3 else np.asarray(pixels, dtype=np.float64)
        self.img = img
        h, w = img.shape
        self.ys = np.linspace(0, h, GRID + 1).astype(int)[:-1]
        self.xs = np.linspace(0, w, GRID + 1).astype(int)[:-1]
        #: tiny frames repeat block edges, which reduceat reads its own way: no shortcut there
        self.plain = bool(np.all(np.diff(self.ys) > 0) and np.all(np.diff(self.xs) > 0))
        self.sums = np.add.reduceat(np.add.reduceat(img, self.ys, axis=0), self.xs, axis=1)
        rows = np.diff(np.append(self.ys, h))[:, None]
        cols = np.diff(np.append(self.xs, w))[None, :]
        self.area = np.maximum(rows * cols, 1)

    def __call__(self, boxes: list[list[int]]) -> np.ndarray:
        """The frame's 16x16 block means with ``boxes`` (x0, y0, x1, y1) blanked to 0."""
        if not self.plain:
            return thumbnail(self.img, boxes)
        h, w = self.img.shape
        spans = [(max(y0, 0), min(max(y1, 0), h), max(x0, 0), min(max(x1, 0), w))
                 for x0, y0, x1, y1 in boxes]
        spans = [s for s in spans if s[0] < s[1] and s[2] < s[3]]
        if not spans:
            return self.sums / self.area
        top, bottom = min(s[0] for s in spans), max(s[1] for s in spans)
        left, right = min(s[2] for s in spans), max(s[3] for s in spans)
        under = np.zeros((bottom - top, right - left), dtype=bool)
        for y0, y1, x0, x1 in spans:  # the union: overlapping boxes are blanked once
            under[y0 - top:y1 - top, x0 - left:x1 - left] = True
        part = np.where(under, self.img[top:bottom, left:right], 0.0)
        by0, by1 = (int(np.searchsorted(self.ys, v, "right")) - 1 for v in (top, bottom - 1))
        bx0, bx1 = (int(np.searchsorted(self.xs, v, "right")) - 1 for v in (left, right - 1))
        ry = np.concatenate(([0], self.ys[by0 + 1:by1 + 1] - top))
        rx = np.concatenate(([0], self.xs[bx0 + 1:bx1 + 1] - left))
        sums = self.sums.copy()
        sums[by0:by1 + 1, bx0:bx1 + 1] -= np.add.reduceat(np.add.reduceat(part, ry, axis=0), rx, axis=1)
        return sums / self.area


def distance(src: Optional[np.ndarray], out: np.ndarray) -> Optional[float]:
    """Mean absolute difference of block means, relative to the source's range (None when the
    source has no thumbnail or a different matrix)."""
    if src is None or src.shape != out.shape:
        return None
    scale = float(src.max() - src.min()) or 1.0
    return float(np.abs(src - out).mean()) / scale


#: blocks per side of the grid that confirms a single candidate
CONFIRM_GRID = 32
#: largest mean difference of 32x32 block means (over blocks the output did not leave uniform,
#: relative to the source's pixel range) for "the same image". `benchmarks/bench_match.py` on
#: `small`: 149 header twins from different studies 0.0093-0.148 (5th percentile 0.013; the
#: generator's phantoms are alike: the 16x16 tie-breaker distance puts them at 0.003-0.084,
#: under MAX_DISTANCE); 75 sources re-encoded as JPEG quality 60 (8-bit) or with +-1 % noise
#: 0.0003-0.0024; a band of 10 % of the rows blanked (outside any box) <= 0.0044
CONFIRM_DISTANCE = 0.006
#: share of blocks that must hold pixel variation in the output for it to be judged at all
MIN_EVIDENCE = 0.25
#: a block whose values spread over at most this share of the frame's range is "uniform":
#: masked (lossy re-encoding leaves a masked area within a few levels), blanked or background
FLAT = 0.02


class Grid:
    """32x32 block means of a frame (grey), which blocks are (nearly) uniform, its pixel range.

    Stored compactly (one is held per source while matching: 54,000 for a `midi-b` benchmark):
    the means as 16-bit steps of the frame's range (a step is 1/65535 of the range, far below
    :data:`CONFIRM_DISTANCE`), the uniform blocks as packed bits; ~2.2 KB instead of ~5 KB.
    """

    __slots__ = ("_q", "_low", "_bits", "span", "shape")

    def __init__(self, means: np.ndarray, flat: np.ndarray, span: float, shape: tuple[int, int]) -> None:
        low = float(means.min()) if means.size else 0.0
        rng = float(means.max()) - low if means.size else 0.0
        scaled = (means.astype(np.float64) - low) / (rng or 1.0) * 65535.0
        self._q, self._low = np.rint(scaled).astype(np.uint16), (low, rng)
        self._bits = np.packbits(flat.astype(bool), axis=None)
        self.span, self.shape = span, shape

    @property
    def means(self) -> np.ndarray:
        low, rng = self._low
        return low + self._q.astype(np.float64) * (rng / 65535.0)

    @property
    def flat(self) -> np.ndarray:
        n = self._q.size
        return np.unpackbits(self._bits, count=n).astype(bool).reshape(self._q.shape)

    def __getstate__(self) -> tuple:
        return self._q, self._low, self._bits, self.span, self.shape

    def __setstate__(self, state: tuple) -> None:
        self._q, self._low, self._bits, self.span, self.shape = state


def _edges(n: int, grid: int) -> np.ndarray:
    return np.linspace(0, n, grid + 1).astype(int)[:-1]


def grid_of(pixels: np.ndarray) -> Grid:
    """The frame's :class:`Grid`; no box blanked: boxes are left out when comparing, so an
    output's grid is computed once whatever candidate it is compared with."""
    img = pixels.mean(axis=-1) if pixels.ndim == 3 else pixels
    h, w = img.shape
    ys, xs = _edges(h, CONFIRM_GRID), _edges(w, CONFIRM_GRID)
    exact = np.int64 if img.dtype.kind in "iub" else np.float64  # stored integers: ~40 % faster
    sums = np.add.reduceat(np.add.reduceat(img, ys, axis=0, dtype=exact), xs, axis=1)
    counts = np.diff(np.append(ys, h))[:, None] * np.diff(np.append(xs, w))[None, :]
    step = 2 if min(h, w) >= 2 * CONFIRM_GRID else 1  # uniformity from every 2nd pixel: the
    part, ys2, xs2 = img[::step, ::step], -(-ys // step), -(-xs // step)  # grid costs 40 % less
    high = np.maximum.reduceat(np.maximum.reduceat(part, ys2, axis=0), xs2, axis=1)
    low = np.minimum.reduceat(np.minimum.reduceat(part, ys2, axis=0), xs2, axis=1)
    spread = high.astype(np.float64) - low
    span = float(high.max()) - float(low.min())
    return Grid(sums / np.maximum(counts, 1), spread <= FLAT * span, span, (h, w))


def _boxed(g: Grid, boxes: list[list[int]]) -> np.ndarray:
    """Blocks touching any PHI box (a tool may change those pixels)."""
    h, w = g.shape
    ys, xs = np.append(_edges(h, CONFIRM_GRID), h), np.append(_edges(w, CONFIRM_GRID), w)
    hit = np.zeros((len(ys) - 1, len(xs) - 1), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        rows = (ys[:-1] < max(y1, 0)) & (ys[1:] > max(y0, 0))
        cols = (xs[:-1] < max(x1, 0)) & (xs[1:] > max(x0, 0))
        hit |= rows[:, None] & cols[None, :]
    return hit


def confirm_distance(src: Optional[Grid], out: Optional[Grid], boxes: list[list[int]]) -> Optional[float]:
    """Distance of two grids over the blocks that are evidence: not uniform in the output
    (masked, blanked, background) and touching no PHI box; None when they are too few."""
    if src is None or out is None or src.shape != out.shape:
        return None
    src_means, out_means = src.means, out.means
    if src_means.shape != out_means.shape:
        return None
    keep = ~out.flat & ~_boxed(out, boxes)
    if keep.mean() < MIN_EVIDENCE:
        return None
    diff = np.abs(src_means - out_means)[keep]
    return float(diff.mean()) / (src.span or 1.0)


#: a source's 16x16 tie-breaker thumbnail (boxes blanked) and its confirmation grid
SourceThumb = tuple[np.ndarray, Grid]


def source_thumb(path: Path, boxes: list[list[int]]) -> Optional[SourceThumb]:
    px = stored_frame(path)
    if px is None:
        return None  # the 16x16 tie-breaker in float32: compared at MAX_DISTANCE, held per source
    return thumbnail(np.asarray(px, dtype=np.float64), boxes).astype(np.float32), grid_of(px)


def output_grid(path: Path) -> Optional[Grid]:
    px = stored_frame(path)
    return None if px is None else grid_of(px)


def thumbnails_unit(items: list[tuple[str, list[list[int]]]]) -> list[Optional[SourceThumb]]:
    """One work unit: (source path, its PHI boxes) -> thumbnails, in order."""
    return [source_thumb(Path(p), boxes) for p, boxes in items]


def grids_unit(item: tuple[str, list[str]]) -> list[Optional[Grid]]:
    """One work unit: (output root, files) -> grids, in order."""
    root, files = item
    return [output_grid(Path(root) / f) for f in files]


class Thumbnails:
    """Thumbnails computed in units on the scorer's executor: the sources' once per benchmark
    version, cached for the user (keyed like the sources' features, plus the boxes: a
    --profile may differ); the outputs' one frame read each, in parallel."""

    def __init__(self, ex: Any, bench: Any, sources: dict[str, Path],
                 boxes: dict[str, list[list[int]]], unit: int = 64) -> None:
        self.ex, self.bench, self.sources, self.boxes, self.unit = ex, bench, sources, boxes, unit

    def _units(self, items: list) -> list[list]:
        return [items[k:k + self.unit] for k in range(0, len(items), self.unit)]

    def of_sources(self) -> Mapping[str, Optional[SourceThumb]]:
        """Every source's thumbnail, on disk (:mod:`midib.score.diskmap`, ~5 KB a source: held
        whole in memory they were 50 MB at `medium`, 260 at `midi-b`), read by instance."""
        from uuid import uuid4

        from midib import cache
        from midib.score import diskmap
        bench = self.bench
        files = tuple(p for p in (bench.checks_path, bench.manifest_path) if p.is_file())
        tag = json.dumps([str(bench.input_dir.resolve()), sorted(self.boxes.items())])
        extra = hashlib.sha256(tag.encode()).hexdigest()

        def thumbs() -> Iterator[tuple[str, Optional[SourceThumb]]]:  # computed again on a retry
            order = sorted(self.sources)
            items = [(str(self.sources[i]), self.boxes.get(i, [])) for i in order]
            done = self.ex.map(thumbnails_unit, self._units(items))
            return zip(order, (t for unit in done for t in unit))

        def compute() -> Mapping[str, Optional[SourceThumb]]:
            maps = diskmap.write_first((cache.sidecar("score-thumbs", files, ".db", extra=extra),
                                        diskmap.scratch_dir() / f"thumbs-{uuid4().hex}.db"),
                                       lambda: {"thumbs": thumbs()})
            return maps["thumbs"] if maps is not None else dict(thumbs())  # no disk: in memory
        return cache.cached("score-thumbs", files, compute, extra=extra, valid=_usable)

    def of_outputs(self, root: Path, files: list[str]) -> dict[str, Optional[Grid]]:
        done = self.ex.map(grids_unit, [(str(root), u) for u in self._units(files)])
        return dict(zip(files, (g for unit in done for g in unit)))


def _usable(found: Any) -> bool:
    """A cached map of thumbnails is usable unless its file on disk has gone."""
    usable = getattr(found, "usable", None)
    return usable() if usable is not None else isinstance(found, Mapping)


def source_thumbnails(ex: Any, bench: Any, sources: dict[str, Path],
                      boxes: dict[str, list[list[int]]]) -> Thumbnails:
    """The scorer's hook: thumbnails on its executor (nothing computed until matching asks)."""
    return Thumbnails(ex, bench, sources, boxes)


#: output grids read ahead, in parallel, while content matching walks the outputs
PREFETCH_WINDOW = 512
#: source thumbnails kept in memory while matching (~5 KB each), the most recently asked for
SOURCE_MEMO = 2048
_MISSING = object()


class _Remembered(dict):
    """A read-only mapping's values remembered as they are first asked for."""

    def __init__(self, base: Mapping[str, Any]) -> None:
        super().__init__()
        self.base = base

    def __missing__(self, key: str) -> Any:
        value = self[key] = self.base[key]
        return value

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


class PixelFingerprint:
    """For :func:`midib.score.matching.match_outputs`: the best of tied sources (a call), and
    whether an output's pixels confirm a single candidate (:meth:`confirm`)."""

    def __init__(self, out_root: Path, sources: dict[str, Path],
                 boxes: dict[str, list[list[int]]], thumbs: Optional[Thumbnails] = None) -> None:
        self.out_root = out_root
        self.sources = sources
        # the key index keeps boxes on disk; matching asks for a source's boxes once per
        # candidate it weighs, so each is read once and kept while this object lives
        self.boxes = boxes if isinstance(boxes, dict) else _Remembered(boxes)
        self._thumbs = thumbs
        self._src: OrderedDict[str, Optional[SourceThumb]] = OrderedDict()   # the last asked
        self._all_src: Optional[Mapping[str, Optional[SourceThumb]]] = None
        self._grids: dict[str, Optional[Grid]] = {}
        self._queue: list[str] = []
        self._at: dict[str, int] = {}
        self._out: tuple[str, Optional[np.ndarray]] = ("", None)
        self._words: dict[str, set[str]] = {}

    def prefetch(self, files: list[str]) -> None:
        """The outputs about to be content-matched, in the order they will be asked about: their
        grids are read in parallel, :data:`PREFETCH_WINDOW` at a time, as matching reaches them
        (never all at once: the parent's memory would grow with the run)."""
        if self._thumbs is not None and files:
            self._queue, self._at = list(files), {f: k for k, f in enumerate(files)}

    def _grid(self, out_file: str) -> Optional[Grid]:
        if out_file not in self._grids:
            k = self._at.get(out_file)
            if k is not None and self._thumbs is not None:  # the next window, read in parallel
                self._grids = self._thumbs.of_outputs(self.out_root, self._queue[k:k + PREFETCH_WINDOW])
            if out_file not in self._grids:
                self._grids[out_file] = output_grid(self.out_root / out_file)
        return self._grids[out_file]

    def _source(self, instance: str) -> Optional[SourceThumb]:
        """A source's thumbnail: from the computed set (made on first need, then read by
        instance), the last :data:`SOURCE_MEMO` kept: outputs come series by series, and a
        series' sources are weighed against each of its outputs."""
        found = self._src.get(instance, _MISSING)
        if found is not _MISSING:
            self._src.move_to_end(instance)
            return found  # type: ignore[return-value]
        if self._thumbs is not None and self._all_src is None:
            self._all_src = self._thumbs.of_sources()
        try:
            if self._all_src is None:
                raise KeyError(instance)
            found = self._all_src[instance]
        except KeyError:
            found = source_thumb(self.sources[instance], self.boxes.get(instance, []))
        self._src[instance] = found  # type: ignore[assignment]
        if len(self._src) > SOURCE_MEMO:
            self._src.popitem(last=False)
        return found  # type: ignore[return-value]

    def _source_thumb(self, instance: str) -> Optional[np.ndarray]:
        found = self._source(instance)
        return None if found is None else found[0]

    def _output_frame(self, out_file: str) -> Optional[np.ndarray]:
        """The output's first frame, decoded once even if asked for twice in a row."""
        if self._out[0] != out_file:
            self._out = (out_file, first_frame(self.out_root / out_file))
        return self._out[1]

    def confirm(self, out_file: str, instance: str, rec: OutputRecord) -> Optional[bool]:
        """True when the output's pixels are the source's (:data:`CONFIRM_DISTANCE`), False when
        clearly another image, None when pixels cannot tell.

        None (the caller keeps the pair) for an output without decodable pixels (SR, RTSTRUCT:
        a tool may rewrite every word of a document, so wording cannot refute it), for a blank
        or nearly uniform image (a tool that blanked every pixel leaves no evidence either way;
        its pixel checks fail on their own), and when the source has no pixels of that matrix.
        """
        grid = self._grid(out_file)
        src = self._source(instance)
        d = confirm_distance(src and src[1], grid, self.boxes.get(instance, []))
        return None if d is None else d < CONFIRM_DISTANCE

    def __call__(self, out_file: str, candidates: list[str], rec: OutputRecord,
                 prefer: Collection[str] = ()) -> Optional[str]:
        """The candidate whose pixels are closest to the output's (None: no pixels to weigh, or
        none close enough); on a tie, one in ``prefer`` (the sources not yet claimed: an
        output equally like a claimed and a free twin is the free one's)."""
        out_px = self._output_frame(out_file)
        if out_px is not None and float(out_px.max() - out_px.min()) == 0:
            return None  # a blank image matches nothing
        if out_px is None:  # no pixels (SR, RTSTRUCT...): the non-PHI words settle the tie
            return self._by_text(out_file, candidates)
        best, best_d = None, MAX_DISTANCE
        outs: dict[str, np.ndarray] = {}  # the output's thumbnail per set of boxes
        boxed = BoxedThumbnails(out_px)
        for inst in sorted(candidates):
            boxes = self.boxes.get(inst, [])
            if (key := repr(boxes)) not in outs:
                outs[key] = boxed(boxes)
            d = distance(self._source_thumb(inst), outs[key])
            if d is not None and (d < best_d or (d == best_d and inst in prefer and best not in prefer)):
                best, best_d = inst, d
        return best

    def _by_text(self, out_file: str, candidates: list[str]) -> Optional[str]:
        """The candidate sharing clearly the most words with the output (Jaccard), or None.

        Ties between documents of one template (two radiology reports of the same size) are
        settled by their wording: a de-identifier removes a few PHI words, not the findings.
        """
        out = text_words(self.out_root / out_file)
        if not out:
            return None
        scored = sorted(((jaccard(out, self._source_words(i)), i) for i in sorted(candidates)),
                        key=lambda t: -t[0])
        if scored and scored[0][0] >= MIN_TEXT_OVERLAP and (len(scored) == 1 or scored[0][0] > scored[1][0]):
            return scored[0][1]
        return None

    def _source_words(self, instance: str) -> set[str]:
        """A source's words, read once (the same few documents tie again and again)."""
        if instance not in self._words:
            self._words[instance] = text_words(self.sources[instance])
        return self._words[instance]
