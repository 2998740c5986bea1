"""What a compressed file or a PDF left among the outputs holds: its inflated bytes, bounded.

A tool, or the script that packs a submission, can leave ``study.tar.gz``, ``originals.zip`` or
``dump.xz`` beside the de-identified files. The byte sweep reads a file's printable runs, and a
stored tar or zip shows its members as they are; a deflated one shows only noise, so the
original names, IDs and dates inside would pass as clean. Here such a file is inflated with the
standard library's decompressors (gzip, bzip2, xz, legacy .lzma, a bare zlib stream, zip members)
and zstandard's, down to :data:`MAX_DEPTH` archives inside one another,
so that the sweep reads what a recipient would read after one ``unzip``.

A PDF (an encapsulated report in EncapsulatedDocument, or a file beside the outputs) keeps its
page text in Flate-compressed content streams, and writes it as string operands, often cut into
kerned pieces (``[(D)20(OE)] TJ``) or in hex (``<444F45> Tj``): :func:`pdf_text` inflates each
stream and joins the pieces, so ``DOE`` reads as one word.

Inflation is bounded: :data:`MAX_TOTAL` bytes per file whatever the archive claims, read in
steps, so a bomb (a few KB inflating to gigabytes) costs at most that much memory and time.
Zip members share it: each reads at most an even share of what the members before it left.
What lies beyond is not swept, and said so (``unread``): the sweep fails the file for it, as
it fails one compressed in a format midib cannot open (7-Zip, RAR): unread is never clean.
"""

from __future__ import annotations

import bz2
import io
import logging
import lzma
import re
import zipfile
import warnings
import zlib
from collections.abc import Iterable, Iterator
from typing import Any, Callable

#: inflated bytes read from one file, all members and levels together
MAX_TOTAL = 16 * 1024 * 1024
#: the least a zip member may inflate to when members share the budget (a DICOM header fits)
MEMBER_MIN = 256 * 1024
#: archives inside archives are opened this deep (``x.dcm.gz.gz.gz`` is three); deeper is
#: reported as not read
MAX_DEPTH = 4
_STEP = 1024 * 1024

_GZIP, _BZIP2, _XZ, _ZIP, _ZSTD = b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"PK\x03\x04", b"\x28\xb5\x2f\xfd"
ZIP_MAGIC = _ZIP
#: compressed formats midib cannot open (no decoder in the standard library or its
#: dependencies): a file in one of them is reported as content not read, never passed as clean
UNOPENABLE = {b"7z\xbc\xaf\x27\x1c": "7-Zip", b"Rar!\x1a\x07": "RAR", b"\x04\x22\x4d\x18": "LZ4",
              b"MSCF\x00\x00\x00\x00": "CAB"}


def compressed(data: bytes) -> bool:
    """True when ``data`` starts like a gzip, bzip2, xz, legacy lzma, zstd or zip file, or a
    bare zlib stream (``zlib.compress`` of an input copy, ``orig.z``: no magic of its own, only
    a two-byte header whose checksum a random start meets once in ~500)."""
    return data.startswith((_GZIP, _BZIP2, _XZ, _ZIP, _ZSTD)) or _zlib_header(data) or _lzma_alone(data)


def unopenable(data: bytes) -> str | None:
    """The name of the compressed format ``data`` starts with when midib cannot open it."""
    return next((name for magic, name in UNOPENABLE.items() if data.startswith(magic)), None)


def _zlib_header(data: bytes) -> bool:
    """RFC 1950: deflate (CM 8) with a window of at most 32 KiB, no preset dictionary, and the
    header's check bits right."""
    return (len(data) >= 6 and data[0] & 0x0F == 8 and data[0] >> 4 <= 7 and not data[1] & 0x20
            and ((data[0] << 8) | data[1]) % 31 == 0)


def _lzma_alone(data: bytes) -> bool:
    """The legacy ``.lzma`` header (xz-utils' ``--format=lzma``, Python's FORMAT_ALONE): the
    default properties byte, a dictionary of 4 KiB..1.5 GiB, a known or unknown (all 0xFF) size."""
    if len(data) < 13 or data[0] != 0x5D:
        return False
    dictionary, size = int.from_bytes(data[1:5], "little"), data[5:13]
    return 1 << 12 <= dictionary <= 3 << 29 and (size == b"\xff" * 8 or int.from_bytes(size, "little") < 1 << 40)


def inflated(data: bytes, budget: int = MAX_TOTAL, depth: int = 0,
             unread: list[str] | None = None) -> Iterator[bytes]:
    """The inflated contents of ``data`` if it is a compressed file or archive (nothing otherwise):
    one bytes object per stream or zip member, and the contents of archives found inside them,
    together at most ``budget`` bytes. A truncated or damaged archive yields what could be read.
    What is left unread (the budget spent, archives nested too deep, a format midib cannot
    open) is said in ``unread``: content nobody read is no content shown free of PHI."""
    unread = unread if unread is not None else []
    if (name := unopenable(data)) is not None:
        unread.append(f"compressed as {name}, which midib cannot open")
        return
    if not compressed(data):
        return
    if depth >= MAX_DEPTH:
        unread.append(f"archives nested more than {MAX_DEPTH} deep")
        return
    left = [budget]
    reader = (_zip_members(io.BytesIO(data), left, unread) if data.startswith(_ZIP) else
              _zstd(data, left, unread) if data.startswith(_ZSTD) else _stream(data, left))
    yield from _with_inner(reader, left, depth, unread)
    if left[0] <= 0:
        unread.append(f"inflates beyond the {budget // 2**20} MiB read of one file")


def _with_inner(parts: Iterable[bytes], left: list[int], depth: int, unread: list[str]) -> Iterator[bytes]:
    """Each part, then the contents of the archive it is (if it is one), within ``left``."""
    for part in parts:
        yield part
        if compressed(part) or unopenable(part):
            inner = list(inflated(part, left[0], depth + 1, unread))
            left[0] -= sum(len(x) for x in inner)
            yield from inner


def _zstd(data: bytes, left: list[int], unread: list[str]) -> Iterator[bytes]:
    """A zstd stream (``tar --zstd``, ``zstd -q``) inflated in steps up to the budget."""
    try:
        import zstandard
    except ImportError:            # an installation without it: said, never passed as clean
        unread.append("compressed as zstd, and the zstandard package is not installed")
        return
    out = bytearray()
    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True) as r:
            while left[0] > 0 and (chunk := r.read(min(_STEP, left[0]))):
                out += chunk
                left[0] -= len(chunk)
    except zstandard.ZstdError:
        pass                      # damaged or truncated: what was read is still swept
    if out:
        yield bytes(out)


def _stream(data: bytes, left: list[int]) -> Iterator[bytes]:
    """A gzip, bzip2, xz, lzma or zlib stream inflated in steps (a bomb stops at the budget); concatenated
    streams (``cat a.gz b.gz``) are each inflated in turn."""
    make: Callable[[], Any]
    if data.startswith(_GZIP):
        make = lambda: zlib.decompressobj(zlib.MAX_WBITS | 16)  # noqa: E731
    elif data.startswith(_BZIP2):
        make = bz2.BZ2Decompressor
    elif data.startswith(_XZ):
        make = lzma.LZMADecompressor
    elif _lzma_alone(data):
        make = lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE)  # noqa: E731
    else:
        make = zlib.decompressobj
    out, rest = bytearray(), data
    while rest and left[0] > 0:
        inflater, pending = make(), rest
        try:
            while left[0] > 0 and not inflater.eof:
                # zlib keeps input it could not use in unconsumed_tail; bz2 and lzma keep it inside
                chunk = inflater.decompress(pending, min(_STEP, left[0]))
                pending = getattr(inflater, "unconsumed_tail", b"")
                if not chunk:
                    break
                out += chunk
                left[0] -= len(chunk)
        except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError):
            break
        rest = inflater.unused_data if inflater.eof else b""
        if not rest.startswith((_GZIP, _BZIP2, _XZ)):
            break
    if out:
        yield bytes(out)


def zip_file_parts(f: Any, unread: list[str], budget: int = MAX_TOTAL) -> list[bytes]:
    """The members of a zip read from an open file (the byte sweep's first window holds only
    the start of a zip larger than it, and its central directory is at its end), and what
    archives they hold, at most ``budget`` bytes; what could not be read is said in ``unread``."""
    left = [budget]
    return list(_with_inner(_zip_members(f, left, unread), left, 0, unread))


def _zip_members(source: Any, left: list[int], unread: list[str]) -> Iterator[bytes]:
    """Each member of a zip (``source``: a seekable file or BytesIO), read in steps up to the
    budget (its declared size is not trusted); a member with more than its share is said in
    ``unread``. A zip whose central directory is missing (truncated at the sweep's limit)
    cannot be listed: its stored members are in its raw bytes, swept as such."""
    try:
        archive = zipfile.ZipFile(source)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return
    files = [info for info in infos if not info.is_dir()]
    for done, info in enumerate(files):
        if left[0] <= 0:
            break
        # a fair share of what is left, so that a bomb as the first member cannot spend the
        # whole budget and hide the members after it (a DICOM member's header is at its start)
        share = min(left[0], max(left[0] // (len(files) - done), MEMBER_MIN))
        part = bytearray()
        try:
            with archive.open(info) as member:
                while len(part) < share and (chunk := member.read(min(_STEP, share - len(part)))):
                    part += chunk
                left[0] -= len(part)
                if len(part) >= share and member.read(1):
                    unread.append(f"zip member {info.filename[:80]!r} inflates beyond its share "
                                  f"of the {MAX_TOTAL // 2**20} MiB read of one file")
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError,
                ValueError, zlib.error, lzma.LZMAError):
            left[0] -= len(part)  # encrypted, damaged or an unknown method: what was read is still swept
        if part:
            yield bytes(part)


_PDF_STREAM = re.compile(rb"stream\r?\n")
_TJ_ARRAY = re.compile(rb"\[((?:\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>|[^\]])*)\]\s*TJ", re.S)
_HEX_STRING = re.compile(rb"(?<!<)<[0-9A-Fa-f\s]+>(?!>)")
_PDF_STRING = re.compile(rb"\(((?:\\.|[^\\)])*)\)|<([0-9A-Fa-f\s]+)>")


def pdf_text(data: bytes, budget: int = MAX_TOTAL) -> Iterator[bytes]:
    """The text of a PDF within ``data`` (nothing if there is none): what pypdf extracts
    (:func:`pdf_document_text`), then each Flate content stream read as it is (at most
    ``budget`` bytes in all), its TJ arrays joined into one string and its hex strings decoded:
    a PDF too damaged for pypdf still shows its strings."""
    if b"%PDF-" not in data:
        return
    if (text := pdf_document_text(data)) is not None:
        yield text
    left = budget
    for m in _PDF_STREAM.finditer(data):
        end = data.find(b"endstream", m.end())
        if end < 0 or left <= 0:
            break
        inflater = zlib.decompressobj()
        try:
            content = inflater.decompress(data[m.end():end], left)
        except zlib.error:
            content = data[m.end():end]          # not compressed (or another filter): as it is
        left -= len(content)
        if b"T" in content:                      # Tj, TJ, ' and " show text; nothing else does
            joined = _TJ_ARRAY.sub(lambda t: b"(" + b"".join(_strings(t.group(1))) + b") Tj", content)
            yield _HEX_STRING.sub(lambda h: b"(" + b"".join(_strings(h.group(0))) + b")", joined)


def _strings(operands: bytes) -> list[bytes]:
    """The string operands in ``operands``, literal ones unescaped and hex ones decoded."""
    out = []
    for lit, hexa in _PDF_STRING.findall(operands):
        if hexa:
            digits = re.sub(rb"\s", b"", hexa)
            try:
                out.append(bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode()))
            except ValueError:
                continue
        else:
            out.append(re.sub(rb"\\(.)", rb"\1", lit))
    return out


#: pages of one PDF whose text is extracted (a report has a few; a hostile file may claim millions)
PDF_PAGES_MAX = 200
#: the largest PDF pypdf reads: a text report is tens of kilobytes (a larger one is mostly page
#: images, with no text to extract), and pypdf parses ~250 KB/s of a hostile page tree; larger
#: PDFs are read by the plain stream reading of :func:`pdf_text` only
PDF_PARSE_MAX = 2 * 1024 * 1024


def pdf_document_text(data: bytes) -> bytes | None:
    """A PDF's text as a reader sees it, through pypdf: page text with each font's own encoding
    undone (a CID font's glyph numbers mapped back through its ToUnicode table, as Word or a
    browser writes them), the document information (Author, Title, Subject), form field
    values, and annotation contents. An empty password is tried on an encrypted file (most
    "protected" PDFs open without one). None when pypdf cannot read it at all or it is over
    :data:`PDF_PARSE_MAX`; Latin-1 bytes for the sweep's text runs (an accented letter keeps
    its word whole)."""
    start = data.find(b"%PDF-")
    if start < 0 or len(data) - start > PDF_PARSE_MAX:
        return None
    try:
        from pypdf import PdfReader
    except ImportError:        # an installation without it: the raw reading below still runs
        return None
    texts: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _quiet_pypdf()
        try:
            reader = PdfReader(io.BytesIO(data[start:]), strict=False)
            if reader.is_encrypted:
                reader.decrypt("")
            texts += [str(v) for v in (reader.metadata or {}).values()]
            texts += [str(v) for v in (reader.get_form_text_fields() or {}).values() if v]
            for number, page in enumerate(reader.pages):
                if number >= PDF_PAGES_MAX:
                    break
                texts.append(page.extract_text() or "")
                for annot in page.get("/Annots") or []:
                    contents = annot.get_object().get("/Contents")
                    if contents:
                        texts.append(str(contents))
        except Exception:      # damaged or hostile: what was read so far is still swept
            pass
    text = "\n".join(t for t in texts if t)
    return text.encode("latin-1", "replace") if text else None


def _quiet_pypdf() -> None:
    """pypdf logs every oddity of a damaged file; the sweep reads hostile files on purpose."""
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)


_PNG = b"\x89PNG\r\n\x1a\n"


def png_text(data: bytes, budget: int = MAX_TOTAL) -> list[bytes]:
    """The text chunks of a PNG (a preview or a screenshot left among the outputs): tEXt as it
    is, zTXt and compressed iTXt inflated (at most ``budget`` bytes), each as ``key text`` in
    Latin-1. A damaged PNG yields the chunks before the damage."""
    if not data.startswith(_PNG):
        return []
    out, pos, n = [], len(_PNG), len(data)
    while pos + 12 <= n and budget > 0:
        length, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        key, _, rest = body.partition(b"\0")
        if kind == b"tEXt":
            text = rest
        elif kind == b"zTXt":
            text = _inflate(rest[1:], budget)
        elif kind == b"iTXt" and len(rest) >= 2:
            _, _, rest2 = rest[2:].partition(b"\0")          # language tag
            translated, _, text = rest2.partition(b"\0")
            text = (_inflate(text, budget) if rest[0] else text).decode("utf-8", "replace")
            text = (translated.decode("utf-8", "replace") + " " + text).encode("latin-1", "replace")
        elif kind == b"IEND":
            break
        else:
            continue
        budget -= len(text)
        out.append(key + b" " + text)
    return out


def _inflate(data: bytes, budget: int) -> bytes:
    try:
        return zlib.decompressobj().decompress(data, max(budget, 0))
    except zlib.error:
        return b""


def unpacked(data: bytes, unread: list[str] | None = None) -> list[bytes]:
    """Everything the sweep reads of ``data`` beyond its own bytes: the inflated contents of a
    compressed file or archive, the text of the PDFs in it or in them, and a PNG's text chunks
    (what could not be read is said in ``unread``: :func:`inflated`)."""
    parts = list(inflated(data, unread=unread))
    for whole in [data, *parts]:
        parts += pdf_text(whole)
        parts += png_text(whole)
    return parts
