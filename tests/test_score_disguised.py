"""PHI a tool (or a hostile submission) writes in a disguise a reader sees through: other
alphabets' look-alike letters, full-width forms, invisible characters, UTF-16, a private UI
holding words, a compressed copy of an input left among the outputs. Each must be a failed
sweep row naming where it was found; a correct de-identification with real non-ASCII text
must still score 100 %.

The benchmark is the hand-made one of :mod:`tests.test_score_scorer` (pydicom's CT and MR,
DOE^JOHN, MRN123456, Springfield General Hospital planted by the test).
"""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import lzma
import zipfile
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from pydicom.dataset import Dataset

from midib.score import archives
from midib.score.observation import FILE_BYTES, binary_strings
from midib.score.values import plain
from tests.test_score_scorer import _leaky, _sweep_failures, deidentify, hand_made_bench, make_run, score


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hand_made_bench(tmp_path_factory.mktemp("handbench"))


@pytest.mark.parametrize("written", [
    "Ｐａｔｉｅｎｔ ＪＯＨＮ ＤＯＥ",                 # full-width forms
    "Patient J\u200bOHN D\u200dOE",                   # zero-width space and joiner inside the words
    "Patient JÖHN DÓE",                               # accents added
    "Patient J\u041eHN D\u041eE",                     # Cyrillic capital O for the Latin one
    "Patient J\u00adOHN D\u00adOE",                   # soft hyphens
])
def test_a_name_in_disguise_is_found(bench: Path, tmp_path: Path, written: str) -> None:
    def comment(ds: Dataset) -> None:
        ds.SpecificCharacterSet = "ISO_IR 192"   # UTF-8: every one of these can be written
        ds.ImageComments = written
    found = _sweep_failures(score(bench, make_run(bench, tmp_path / "run", _leaky(comment)))[0])
    assert (found.path == "(0020,4000)").sum() >= 2, found[["path", "reason"]].to_string()
    assert found.reason.str.contains("DOE").any()


def test_real_non_ascii_text_is_not_a_leak(bench: Path, tmp_path: Path) -> None:
    """Folding letters is not finding names everywhere: German, Greek and Russian words that
    are no planted value leave a correct de-identification at 100 %."""
    def comment(ds: Dataset) -> None:
        ds.ImageComments = "Kontrolle: Lungenrundherd unverändert — Δ 2 mm — Контроль через год"
        ds.SpecificCharacterSet = "ISO_IR 192"
    rows, _ = score(bench, make_run(bench, tmp_path / "run", _leaky(comment)))
    assert rows.passed.all(), rows[~rows.passed][["path", "reason"]].to_string()


def test_utf16_text_in_a_private_blob_is_found(bench: Path, tmp_path: Path) -> None:
    def blob(ds: Dataset) -> None:
        block = ds.private_block(0x0011, "WINDOWS", create=True)
        block.add_new(0x01, "OB", b"\x01\x02" + "Springfield General Hospital".encode("utf-16-le") + b"\x00\x00")
        block.add_new(0x02, "OB", "JOHN DOE".encode("utf-16-be"))
        block.add_new(0x03, "OB", b"\x01" + "JOHN DOE".encode("utf-32-le"))     # UTF-32 too
    found = _sweep_failures(score(bench, make_run(bench, tmp_path / "run", _leaky(blob)))[0])
    assert found[found.path == '(0011,"WINDOWS",01)'].reason.str.contains("Springfield").sum() == 2
    assert found[found.path == '(0011,"WINDOWS",02)'].reason.str.contains("DOE").sum() == 2
    assert found[found.path == '(0011,"WINDOWS",03)'].reason.str.contains("DOE").sum() == 2


def test_a_private_ui_holding_a_name_is_a_leak_not_only_an_invalid_uid(bench: Path, tmp_path: Path) -> None:
    def ui(ds: Dataset) -> None:
        block = ds.private_block(0x0011, "UIDS", create=True)
        block.add_new(0x01, "UI", "DOE^JOHN")
        block.add_new(0x02, "UI", "1.2.826.0.1.9.100")   # the original series UID: one more leak
    found = _sweep_failures(score(bench, make_run(bench, tmp_path / "run", _leaky(ui)))[0])
    assert found[found.path == '(0011,"UIDS",01)'].reason.str.contains("DOE").any()
    assert (found.path == '(0011,"UIDS",02)').any()


_PACKERS: dict[str, Callable[[bytes, str], bytes]] = {
    "gzip": lambda data, name: gzip.compress(data),
    "bzip2": lambda data, name: bz2.compress(data),
    "xz": lambda data, name: lzma.compress(data),
    "lzma (legacy .lzma)": lambda data, name: lzma.compress(data, format=lzma.FORMAT_ALONE),
    "zlib (bare stream)": lambda data, name: zlib.compress(data),
    "zlib, best compression": lambda data, name: zlib.compress(data, 9),
    "zip": lambda data, name: _zip({name: data}),
    "tar.gz": lambda data, name: gzip.compress(_tar({name: data})),
    "zip in gzip": lambda data, name: gzip.compress(_zip({name: data})),
    "gzip three times": lambda data, name: gzip.compress(gzip.compress(gzip.compress(data))),
    "tar.zst": lambda data, name: __import__("zstandard").ZstdCompressor().compress(_tar({name: data})),
}


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def _tar(members: dict[str, bytes]) -> bytes:
    import tarfile
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.parametrize("packer", sorted(_PACKERS))
def test_a_compressed_copy_of_an_input_left_among_the_outputs_is_a_leak(
        bench: Path, tmp_path: Path, packer: str) -> None:
    """The de-identified files are correct; a compressed copy of an original (an opaque name, so
    the file name says nothing) sits beside them. What unpacking it shows is a leak."""
    run = make_run(bench, tmp_path / "run", deidentify)
    source = sorted((bench / "input").rglob("*.dcm"))[0]
    packed = _PACKERS[packer](source.read_bytes(), "a.dcm")
    assert b"DOE^JOHN" not in packed and b"MRN123456" not in packed   # not readable as it is
    (run / "out" / "extra.bin").write_bytes(packed)
    rows, result = score(bench, run)
    found = _sweep_failures(rows)
    mine = found[(found.output_file == "out/extra.bin") & (found.path == FILE_BYTES)]
    assert mine.reason.str.contains("DOE").any() and mine.reason.str.contains("MRN123456").any(), \
        found[["output_file", "path", "reason"]].to_string()
    assert rows[rows.output_file != "out/extra.bin"].passed.all()   # the real outputs still pass


def test_a_bomb_inflates_no_further_than_the_budget() -> None:
    """1 GiB of zeros with a name at its end, deflated to ~1 MB: inflation stops at the budget, so
    the name past it is not read, and memory stays bounded by the budget."""
    zeros = gzip.compress(b"\x00" * (1 << 30) + b"DOE^JOHN", compresslevel=1)
    parts = list(archives.inflated(zeros))
    assert sum(len(p) for p in parts) == archives.MAX_TOTAL
    assert not any(b"DOE" in p for p in parts)
    small = gzip.compress(b"\x00" * 1000 + b"DOE^JOHN")
    assert any(b"DOE^JOHN" in p for p in archives.inflated(small))


@pytest.mark.parametrize("packed, why", [
    (gzip.compress(b"\x00" * (archives.MAX_TOTAL + 1) + b"DOE^JOHN"), "inflates beyond"),
    (b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(range(256)), "7-Zip, which midib cannot open"),
    (b"Rar!\x1a\x07\x01\x00" + bytes(range(256)), "RAR"),
    (gzip.compress(gzip.compress(gzip.compress(gzip.compress(gzip.compress(b"DOE^JOHN"))))), "nested more than"),
], ids=["past the budget", "7z", "rar", "nested too deep"])
def test_what_the_sweep_cannot_read_whole_fails_the_file(bench: Path, tmp_path: Path, packed: bytes,
                                                         why: str) -> None:
    """17 MB of zeros before the originals in a tar.gz, or a .7z of them, scored 100 %: what
    nobody read cannot be shown free of PHI, so the file fails, saying why."""
    run = make_run(bench, tmp_path / "run", deidentify)
    (run / "out" / "extra.bin").write_bytes(packed)
    rows, _ = score(bench, run)
    mine = rows[(rows.output_file == "out/extra.bin") & ~rows.passed]
    assert mine.reason.str.contains("not read whole").any() and mine.reason.str.contains(why).any(), \
        mine[["path", "reason"]].to_string()
    assert rows[rows.output_file != "out/extra.bin"].passed.all()


def test_a_file_past_the_sweep_limit_fails_and_one_within_it_does_not(tmp_path: Path, monkeypatch) -> None:
    from midib.score import observation
    from midib.score.observation import OutputRecord, sweep_file_bytes
    from midib.score.sweep import UNREAD
    monkeypatch.setattr(observation, "FILE_SWEEP_MAX", 1 << 20)    # windows of 256 KiB up to 1 MiB
    monkeypatch.setattr(observation, "BLOB_SWEEP_MAX", 1 << 18)
    for size, unread in ((1 << 19, False), (3 << 20, True)):
        f = tmp_path / f"f{size}.bin"
        with f.open("wb") as h:
            h.truncate(size)
        rec = OutputRecord(file=f.name)
        sweep_file_bytes(f, rec, lambda text, vr, where: [])
        assert any(nid == UNREAD for nid, _, _ in rec.hits) is unread, rec.hits


def test_a_zip_larger_than_a_window_is_read_from_its_directory(tmp_path: Path) -> None:
    """Its central directory is past the first 16 MiB window: the deflated notes after a large
    stored member went unread and unflagged; the member past its share is said unread."""
    from midib.score.observation import OutputRecord, sweep_file_bytes
    from midib.score.sweep import UNREAD
    big = tmp_path / "images.zip"
    with zipfile.ZipFile(big, "w") as z:
        z.writestr(zipfile.ZipInfo("noise.bin"), np.random.default_rng(3).bytes(17 << 20))
        z.writestr("notes.txt", "seen by DOE^JOHN " * 50, zipfile.ZIP_DEFLATED)
    rec = OutputRecord(file=big.name)
    sweep_file_bytes(big, rec, lambda text, vr, where: [("doe", text)] if "DOE^JOHN" in text else [])
    assert any(nid == "doe" for nid, _, _ in rec.hits)
    assert any(nid == UNREAD and "noise.bin" in text for nid, _, text in rec.hits), rec.hits


def test_a_bomb_as_the_first_zip_member_does_not_hide_the_next() -> None:
    """Members share the budget: zeros past the budget first once spent all of it, and the name in
    the second member went unread. Total inflation stays within the budget."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.dcm", b"\x00" * (4 * archives.MAX_TOTAL))
        z.writestr("b.dcm", b"DICM name DOE^JOHN")
    parts = list(archives.inflated(out.getvalue()))
    assert any(b"DOE^JOHN" in p for p in parts)
    assert sum(len(p) for p in parts) <= archives.MAX_TOTAL


def test_damaged_archives_yield_what_they_hold_and_never_raise() -> None:
    data = gzip.compress(b"name DOE^JOHN " + bytes(range(256)) * 64 + b" MRN123456")
    cut = list(archives.inflated(data[: len(data) // 2]))                          # truncated
    assert any(b"DOE^JOHN" in p for p in cut) and not any(b"MRN123456" in p for p in cut)
    assert list(archives.inflated(b"PK\x03\x04" + b"\xff" * 100)) == []              # no directory
    assert list(archives.inflated(b"\x1f\x8b" + b"\xff" * 100)) == []                # bad header
    assert list(archives.inflated(b"BZh9" + b"\x00" * 50)) == []
    assert list(archives.inflated(b"plain text DOE^JOHN")) == []                     # not compressed
    twice = gzip.compress(b"first JOHN ") + gzip.compress(b"second DOE")            # cat a.gz b.gz
    assert b"".join(archives.inflated(twice)) == b"first JOHN second DOE"
    assert list(archives.inflated(b"\x78\x9c" + b"\xff" * 100)) == []              # zlib header only
    assert list(archives.inflated(b"\x5d\x00\x00\x80\x00" + b"\xff" * 100)) == []  # lzma header only


def test_a_bare_zlib_stream_in_a_private_value_is_inflated(bench: Path, tmp_path: Path) -> None:
    """``zlib.compress`` has no magic, only a checksummed two-byte header: a private OB a tool
    filled with a deflated name is read as the name."""
    def packed(ds: Dataset) -> None:
        ds.private_block(0x0011, "PACKED", create=True).add_new(0x01, "OB", zlib.compress(b"DOE^JOHN MRN123456"))
    found = _sweep_failures(score(bench, make_run(bench, tmp_path / "run", _leaky(packed)))[0])
    mine = found[found.path.str.startswith('(0011,"PACKED"')]
    assert mine.reason.str.contains("DOE").any() and mine.reason.str.contains("MRN123456").any()


def test_text_in_utf16_and_disguised_letters_read_plainly() -> None:
    assert "Springfield General" in binary_strings(b"\x01" + "Springfield General".encode("utf-16-le"))
    assert "DOE JOHN" in binary_strings("DOE JOHN".encode("utf-16-be"))
    assert plain("ＤＯＥ") == plain("D\u200bOE") == plain("D\x00O\x00E") == plain("D\u041eE") == "DOE"
    assert plain("Dóe") == "Doe" and plain("plain ascii") == "plain ascii"


def _pdf(content: bytes) -> bytes:
    """A one-page PDF whose content stream (Flate-compressed, as every PDF writer does) is
    ``content``."""
    import zlib
    stream = zlib.compress(content)
    return (b"%PDF-1.4\n1 0 obj\n<< /Length " + str(len(stream)).encode() + b" /Filter /FlateDecode >>\n"
            b"stream\n" + stream + b"\nendstream\nendobj\ntrailer\n<< >>\n%%EOF\n")


_PAGE = (b"BT /F1 12 Tf 72 712 Td [(Report for J)30(OHN D)-20(OE)] TJ 0 -14 Td "
         b"<4d524e313233343536> Tj ET")   # MRN123456 in hex


def test_a_name_in_an_encapsulated_pdf_report_is_found(bench: Path, tmp_path: Path) -> None:
    """The report's text is deflated and kerned: neither DOE nor MRN123456 is in the bytes."""
    assert b"DOE" not in _pdf(_PAGE) and b"MRN123456" not in _pdf(_PAGE)

    def report(ds: Dataset) -> None:
        ds.add_new(0x00420011, "OB", _pdf(_PAGE))
    found = _sweep_failures(score(bench, make_run(bench, tmp_path / "run", _leaky(report)))[0])
    mine = found[found.path == "(0042,0011)"]
    assert mine.reason.str.contains("DOE").any() and mine.reason.str.contains("MRN123456").any(), \
        found[["path", "reason"]].to_string()


def test_a_pdf_left_beside_the_outputs_is_read_and_a_clean_one_passes(bench: Path, tmp_path: Path) -> None:
    run = make_run(bench, tmp_path / "run", deidentify)
    (run / "out" / "report.pdf").write_bytes(_pdf(_PAGE))
    (run / "out" / "clean.pdf").write_bytes(_pdf(b"BT [(No findings)-20(.)] TJ ET"))
    rows, result = score(bench, run)
    found = _sweep_failures(rows)
    assert set(found.output_file) == {"out/report.pdf"} and found.reason.str.contains("DOE").any()
    assert {"out/report.pdf", "out/clean.pdf"} <= set(result.match.extra_outputs)   # both were read


def _cid_pdf(glyphs: bytes, author: bytes) -> bytes:
    """A PDF as Word or a browser writes one: a Type0 font with Identity-H encoding, so the page
    shows glyph numbers (``<0001 0002 ...> Tj``), readable only through the font's ToUnicode
    table; the document information (Author) and both tables Flate-compressed."""
    import zlib
    cmap = zlib.compress(b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap "
                         b"1 begincodespacerange <0000> <FFFF> endcodespacerange "
                         b"5 beginbfchar <0001> <0044> <0002> <004F> <0003> <0045> <0004> <004A> "
                         b"<0006> <0020> endbfchar 1 beginbfrange <0005> <0005> <0048> endbfrange "
                         b"1 beginbfchar <0007> <004E> endbfchar endcmap end end")
    content = zlib.compress(b"BT /F1 12 Tf 72 720 Td <" + glyphs + b"> Tj ET")
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
            b"/Contents 5 0 R >>",
            b"<< /Type /Font /Subtype /Type0 /BaseFont /Calibri /Encoding /Identity-H /ToUnicode 6 0 R >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(cmap) + cmap + b"\nendstream",
            b"<< /Author <" + author.hex().encode() + b"> >>"]
    out, offsets = b"%PDF-1.7\n", []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R /Info 7 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)


def test_a_name_in_a_cid_font_pdf_is_found(bench: Path, tmp_path: Path) -> None:
    """Glyph numbers, not letters: JOHN DOE is ``0004 0002 0005 0007 0006 0001 0002 0003``, and
    the institution is in the hex-written Author. Read through the font's ToUnicode table."""
    doc = _cid_pdf(b"00040002000500070006000100020003", b"Springfield General Hospital")
    assert b"DOE" not in doc and b"Springfield" not in doc

    def report(ds: Dataset) -> None:
        ds.add_new(0x00420011, "OB", doc)
    found = _sweep_failures(score(bench, make_run(bench, tmp_path / "run", _leaky(report)))[0])
    mine = found[found.path == "(0042,0011)"]
    assert mine.reason.str.contains("DOE").sum() == 2, found[["path", "reason"]].to_string()
    assert mine.reason.str.contains("Springfield").sum() == 2


def test_a_damaged_pdf_is_read_as_far_as_it_goes_without_error() -> None:
    doc = _cid_pdf(b"00040002000500070006000100020003", b"Springfield General Hospital")
    for cut in (len(doc) // 3, len(doc) // 2, len(doc) - 40):
        list(archives.unpacked(doc[:cut]))          # never raises
    assert b"JOHN DOE" in b"".join(archives.unpacked(doc))
    assert archives.pdf_document_text(b"%PDF-1.4 garbage " * 100) is None   # nothing pypdf can read
    cyclic = doc.replace(b"/Kids [3 0 R]", b"/Kids [2 0 R 3 0 R]")        # a page tree that loops
    archives.unpacked(cyclic)                       # a loop in the page tree: no exception, no hang
    padded = doc + b"%" + b"x" * archives.PDF_PARSE_MAX                 # over the parse limit
    assert archives.pdf_document_text(padded) is None


def test_a_name_past_the_first_window_of_a_large_file_is_found(bench: Path, tmp_path: Path) -> None:
    """A 20 MB log left beside the outputs, the name at its end: the byte sweep reads the file in
    overlapping windows, not only its first 16 MiB. A name cut at a window's edge is whole in
    the next one."""
    from midib.score.observation import BLOB_SWEEP_MAX, WINDOW_OVERLAP
    run = make_run(bench, tmp_path / "run", deidentify)
    filler = b"INFO processing slice ok\n" * (20 * 2**20 // 25)
    (run / "out" / "tool.log").write_bytes(filler + b"ERROR patient DOE^JOHN failed\n")
    edge = BLOB_SWEEP_MAX - 4                       # "MRN123456" straddles the first window's end
    (run / "out" / "edge.log").write_bytes(b"." * edge + b" MRN123456 " + b"." * (WINDOW_OVERLAP * 2))
    found = _sweep_failures(score(bench, run)[0])
    assert found[found.output_file == "out/tool.log"].reason.str.contains("DOE").any()
    assert found[found.output_file == "out/edge.log"].reason.str.contains("MRN123456").any()


def test_windows_stop_at_pixel_data_that_ends_the_file(tmp_path: Path) -> None:
    from midib.score.observation import BLOB_SWEEP_MAX, file_windows
    header = b"\x00" * 128 + b"DICM" + b"x" * (BLOB_SWEEP_MAX + 100)
    pixels = b"\xe0\x7f\x10\x00OW\x00\x00" + (2 * 2**20).to_bytes(4, "little") + b"N" * (2 * 2**20)
    path = tmp_path / "f.dcm"
    path.write_bytes(header + pixels)
    with open(path, "rb") as f:
        windows = list(file_windows(f))
    assert len(windows) == 2 and windows[1][0] > 0
    assert sum(len(w) for _, w in windows) < len(header) + BLOB_SWEEP_MAX // 8   # pixels never read
    assert not any(b"NNNN" in w for _, w in windows)


def test_a_name_after_a_hole_of_zeros_is_found_and_the_hole_costs_nothing(
        bench: Path, tmp_path: Path, monkeypatch) -> None:
    """A sparse file (``truncate -s``) once cost the sweep a minute per 512 MB; its holes are
    now skipped, never searched, and what follows a hole is still read."""
    from midib.score import observation
    run = make_run(bench, tmp_path / "run", deidentify)
    with open(run / "out" / "sparse.bin", "wb") as f:
        f.seek(3 * observation.BLOB_SWEEP_MAX + 123)
        f.write(b" patient DOE^JOHN ")
        f.truncate(4 * observation.BLOB_SWEEP_MAX)
    searched: list[int] = []
    real = observation._runs
    monkeypatch.setattr(observation, "_runs", lambda data: searched.append(len(data)) or real(data))
    found = _sweep_failures(score(bench, run)[0])
    assert found[found.output_file == "out/sparse.bin"].reason.str.contains("DOE").any()
    assert sum(n for n in searched if n >= observation.BLOB_SWEEP_MAX) <= 2 * observation.BLOB_SWEEP_MAX


@pytest.mark.parametrize("base", ["zeros", "random", "text"])
def test_text_runs_of_long_data_are_those_of_the_plain_search(base: str) -> None:
    """Long data is searched only where numpy marks a run could start: the same runs, in the
    same order, as the two patterns over the whole of it (UTF-16 in both byte orders and at
    odd offsets, runs at the very ends)."""
    import random
    from midib.score import observation as o
    rng = random.Random(7)
    n = 2 * o._SCAN_BY_REGION + 17
    buf = bytearray({"zeros": bytes(n), "random": rng.randbytes(n),
                     "text": (b"slice ok\x00\x01" * n)[:n]}[base])
    words = [b"DOE^JOHN", "Doe John".encode("utf-16-le"), "MRN 123".encode("utf-16-be"), b"ab",
             "Arellano".encode("utf-32-le"), "Emily U".encode("utf-32-be"),
             b"\x00A\x00B\x00C\x00D\x00E", b"A\x00B\x00C\x00D\x00E\x00F", "\xc9lise".encode("latin-1")]
    for _ in range(300):
        w = rng.choice(words)
        at = rng.randrange(n - len(w))
        buf[at:at + len(w)] = w
    buf[:8], buf[-9:] = b"HEADTEXT", "TAIL".encode("utf-16-le") + b"\x00"
    data = bytes(buf)
    plain = [m.group(0).decode("latin-1").strip() for m in o._TEXT_RUN.finditer(data)]
    plain += [m.group(0).replace(b"\x00", b"").decode("ascii").strip() for m in o._UTF16_RUN.finditer(data)]
    plain += [m.group(0).replace(b"\x00", b"").decode("ascii").strip() for m in o._UTF32_RUN.finditer(data)]
    expected = tuple(r for r in plain if r and o._texty(r))
    assert o.binary_strings(data) == expected
    assert any("HEADTEXT" in r for r in expected) and any("TAIL" in r for r in expected)


@pytest.mark.parametrize("written", [
    "Patient " + base64.b64encode(b"JOHN DOE").decode(),          # base64
    "ref=" + base64.urlsafe_b64encode(b"Doe, John").decode().rstrip("="),   # URL-safe, unpadded
    "JOHN DOE".encode().hex().upper(),                             # hexadecimal
    "Patient=John%20Doe",                                          # percent (URL) encoding
    "Patient &#74;ohn &#68;oe",                                    # HTML character references
    "Patient " + base64.b32encode(b"JOHN DOE").decode(),          # base32
    "JOHN DOE".encode("utf-16-le").hex(),                          # hexadecimal of UTF-16
    "Patient J O H N  D O E",                                      # letters spaced out
])
def test_a_name_written_in_an_encoding_is_found(bench: Path, tmp_path: Path, written: str) -> None:
    def comment(ds: Dataset) -> None:
        ds.ImageComments = written
    found = _sweep_failures(score(bench, make_run(bench, tmp_path / "run", _leaky(comment)))[0])
    assert (found.path == "(0020,4000)").sum() >= 2, found[["path", "reason"]].to_string()
    assert found.observed.str.contains("DOE|Doe").all()


def test_an_encoded_name_where_the_key_checks_the_name_is_still_a_leak(bench: Path, tmp_path: Path) -> None:
    """The key's PatientName check compares the encoded text and passes; the sweep's hit in
    the decoded text must not be taken as already judged there."""
    def encoded(ds: Dataset) -> None:
        ds.PatientName = base64.b64encode(b"DOE^JOHN").decode()
    rows, _ = score(bench, make_run(bench, tmp_path / "run", _leaky(encoded)))
    found = _sweep_failures(rows)
    assert (found.path == "(0010,0010)").sum() == 2, found[["path", "reason"]].to_string()
    assert found.observed.str.startswith("[base64] DOE^JOHN").all()


def test_a_check_that_passed_does_not_hide_the_sweeps_hit_at_its_place(bench: Path, tmp_path: Path) -> None:
    """``ANON-MRN123456`` in every output is a consistent pseudonym, so patid_consistent passes;
    the MRN it still holds is a leak the sweep finds there, and counts (it was taken as already
    judged by that check). The same for a birth date re-spelled in free text whose key check
    looks for the name only; a check that failed still makes the hit no second row."""
    def embedded(ds: Dataset) -> None:
        ds.PatientID = "ANON-MRN123456"
        ds.StudyDescription = "CT chest for [removed] follow up, born March 4, 1970"
    rows, _ = score(bench, make_run(bench, tmp_path / "run", _leaky(embedded)))
    key = rows[rows.source == "key"]
    assert key[key.action == "patid_consistent"].passed.all()
    found = _sweep_failures(rows)
    assert (found.path == "(0010,0020)").sum() == 2, found[["path", "reason"]].to_string()
    assert found[found.path == "(0010,0020)"].reason.str.contains("MRN123456").all()
    assert (found.path == "(0008,1030)").sum() == 2, found[["path", "reason"]].to_string()

    def kept(ds: Dataset) -> None:   # the original ID kept: the failed check is the one row
        ds.PatientID = "MRN123456"
    rows, _ = score(bench, make_run(bench, tmp_path / "kept", _leaky(kept)))
    assert not (rows[rows.action == "patid_consistent"].passed.any())
    assert (_sweep_failures(rows).path == "(0010,0020)").sum() == 0


def test_hashes_and_random_tokens_are_not_decoded_into_leaks(bench: Path, tmp_path: Path) -> None:
    """Pseudonyms a tool derives (a SHA-256 in hex, a base64 token, a UUID) decode to bytes
    that are not text: a correct de-identification writing them scores 100 %."""
    import hashlib

    def hashed(ds: Dataset) -> None:
        ds.PatientID = hashlib.sha256(b"MRN123456").hexdigest()[:64]
        ds.OtherPatientIDs = base64.b64encode(hashlib.sha256(b"MRN123456").digest()).decode()[:64]
        ds.ImageComments = "token 6f1e2b9c-3d4a-4b8e-9f00-2c1d0e5a7b31 ABDOMENPELVIS 1.2.840.10008.1.2"
    rows, _ = score(bench, make_run(bench, tmp_path / "run", _leaky(hashed)))
    assert rows.passed.all(), rows[~rows.passed][["path", "reason"]].to_string()


def test_a_name_in_a_compressed_png_text_chunk_is_found(bench: Path, tmp_path: Path) -> None:
    """A preview PNG left beside the outputs, the name in a deflated zTXt chunk (what PIL and
    most viewers write for a long comment): not in the file's bytes, found once inflated."""
    from PIL import Image, PngImagePlugin
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "Preview for JOHN DOE", zip=True)
    info.add_itxt("Source", "Springfield General Hospital", lang="en", tkey="Source", zip=True)
    run = make_run(bench, tmp_path / "run", deidentify)
    Image.new("L", (32, 32)).save(run / "out" / "preview.png", "PNG", pnginfo=info)
    assert b"DOE" not in (run / "out" / "preview.png").read_bytes()
    found = _sweep_failures(score(bench, run)[0])
    assert set(found.output_file) == {"out/preview.png"}, found[["output_file", "reason"]].to_string()
    assert found.reason.str.contains("DOE").any() and found.reason.str.contains("Springfield").any()
    assert archives.png_text(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x20zTXt") == []   # cut short: nothing, no error


def test_a_name_written_plainly_beside_an_escape_is_judged_once(bench: Path, tmp_path: Path) -> None:
    """A description holding the name as written and an HTML escape (``&amp;``): the name is
    the key's text_cleaned check's to judge (one failure), not a second sweep row from the
    decoded text."""
    def described(ds: Dataset) -> None:
        ds.StudyDescription = "CT chest for John Doe follow up &amp; compare"
    rows, _ = score(bench, make_run(bench, tmp_path / "run", _leaky(described)))
    at = rows[rows.path == "(0008,1030)"]
    assert (~at.passed).sum() == 2 and set(at[~at.passed].source) == {"key"}, at[["source", "reason"]].to_string()
