"""dciodvfy runs saved: sources validated once across runs, copies of sources never validated.

A fake ``dciodvfy`` on a temporary PATH logs every file it is run on, so the tests count real
invocations; its verdicts depend on the file's content (a "BAD" marker), not on its name.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from midib.score.conformance import Dciodvfy, SourceStore, same_content

SOURCE_ERROR = "Error - Value invalid for this VR - (0x0008,0x0020) DA Study Date = <2004x>"
INTRODUCED = "Error - Missing attribute Type 1 Required Element=<StudyInstanceUID> Module=<GeneralStudy>"


@pytest.fixture()
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake dciodvfy first on PATH and a cache folder of its own; returns the invocation log."""
    bindir, log = tmp_path / "bin", tmp_path / "runs.log"
    bindir.mkdir()
    script = bindir / "dciodvfy"
    script.write_text(f"""#!/bin/sh
echo "$1" >> "{log}"
echo "Warning - something harmless" >&2
grep -q SRCERR "$1" && echo "{SOURCE_ERROR}" >&2
grep -q BAD "$1" && echo "{INTRODUCED}" >&2
exit 0
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("MIDIB_CACHE_DIR", str(tmp_path / "cache"))
    return log


def runs(log: Path) -> list[str]:
    return [Path(line).name for line in log.read_text().splitlines()] if log.is_file() else []


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    made = {"src": b"DICM SRCERR pixels", "copy": b"DICM SRCERR pixels",
            "edited": b"DICM SRCERR pixels, header edited", "bad": b"DICM SRCERR BAD"}
    out = {}
    for name, data in made.items():
        out[name] = tmp_path / f"{name}.dcm"
        out[name].write_bytes(data)
    return out


def test_source_result_reused_by_a_new_engine(fake: Path, files: dict[str, Path]) -> None:
    first = Dciodvfy().introduced(files["src"], files["edited"])
    assert first == [] and sorted(runs(fake)) == ["edited.dcm", "src.dcm"]
    second = Dciodvfy()  # another scoring run: the source comes from the user's cache
    assert second.introduced(files["src"], files["bad"]) == [INTRODUCED]
    assert runs(fake).count("src.dcm") == 1 and second.runs == 1


def test_cached_source_lines_are_normalised_like_fresh_ones(fake: Path, files: dict[str, Path]) -> None:
    fresh = Dciodvfy().source_errors(files["src"])
    assert Dciodvfy().source_errors(files["src"]) == fresh and fresh and "2004x" not in fresh[0]


def test_identical_output_is_not_validated(fake: Path, files: dict[str, Path]) -> None:
    engine = Dciodvfy()
    assert engine.introduced_many([(files["src"], files["copy"])] * 3, workers=2) == [[], [], []]
    assert runs(fake) == [] and engine.runs == 0


def test_modified_output_still_judged(fake: Path, files: dict[str, Path]) -> None:
    engine = Dciodvfy()
    pairs = [(files["src"], files["copy"]), (files["src"], files["bad"]), (files["src"], files["edited"])]
    assert engine.introduced_many(pairs, workers=2) == [[], [INTRODUCED], []]
    assert sorted(runs(fake)) == ["bad.dcm", "edited.dcm", "src.dcm"]


def test_same_size_different_bytes_is_not_a_copy(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"x" * 3_000_000 + b"1")
    b.write_bytes(b"x" * 3_000_000 + b"2")  # differs after the first read chunk
    assert not same_content(a, b) and same_content(a, a)
    assert not same_content(a, tmp_path / "absent")


@pytest.mark.parametrize("garbage", [b"", b"{not json", b'{"errors": "Error - x"}', b'{"errors": [1]}'])
def test_broken_cache_entry_never_changes_a_verdict(fake: Path, files: dict[str, Path], garbage: bytes) -> None:
    Dciodvfy().source_errors(files["src"])
    entries = list((Path(os.environ["MIDIB_CACHE_DIR"]) / "dciodvfy").glob("*.json"))
    assert len(entries) == 1
    entries[0].write_bytes(garbage)
    engine = Dciodvfy()
    assert engine.introduced(files["src"], files["bad"]) == [INTRODUCED]
    assert engine.source_errors(files["src"]) and runs(fake).count("src.dcm") == 2


def test_changed_source_is_validated_again(fake: Path, files: dict[str, Path]) -> None:
    Dciodvfy().source_errors(files["src"])
    files["src"].write_bytes(b"DICM clean now, longer than before")
    assert Dciodvfy().source_errors(files["src"]) == []
    assert runs(fake).count("src.dcm") == 2


def test_cache_off_validates_every_time(fake: Path, files: dict[str, Path],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIDIB_CACHE_DIR", "off")
    Dciodvfy().source_errors(files["src"])
    Dciodvfy().source_errors(files["src"])
    assert runs(fake).count("src.dcm") == 2


def test_timeouts_are_not_cached(fake: Path, files: dict[str, Path], tmp_path: Path) -> None:
    slow = tmp_path / "bin" / "dciodvfy"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    assert Dciodvfy(timeout=0.2).source_errors(files["src"])[0].startswith("Error - dciodvfy timed out")
    assert not list((Path(os.environ["MIDIB_CACHE_DIR"]) / "dciodvfy").glob("*.json"))


def test_prune_keeps_the_newest(tmp_path: Path) -> None:
    store = SourceStore(tmp_path / "store", "sig")
    paths = []
    for i in range(5):
        paths.append(tmp_path / f"s{i}.dcm")
        paths[-1].write_bytes(bytes([i]))
        store.put(paths[-1], [f"Error - {i}"])
        entry = store._entry(paths[-1])
        os.utime(entry, (1000 + i, 1000 + i))
    store.prune(keep=2)
    assert [store.get(p) for p in paths] == [None, None, None, ["Error - 3"], ["Error - 4"]]


def test_source_entries_survive_a_midib_update(fake: Path, files: dict[str, Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Raw dciodvfy lines depend on the file and the binary only, not on midib's code."""
    from midib import cache
    Dciodvfy().source_errors(files["src"])
    if hasattr(cache, "code_digest"):
        monkeypatch.setattr(cache, "code_digest", lambda: "another midib")
    monkeypatch.setattr(cache, "__version__", "99.0", raising=False)
    Dciodvfy().source_errors(files["src"])
    assert runs(fake).count("src.dcm") == 1


def test_another_dciodvfy_binary_validates_again(fake: Path, files: dict[str, Path]) -> None:
    Dciodvfy().source_errors(files["src"])
    script = fake.parent / "bin" / "dciodvfy"
    script.write_text(script.read_text() + "\n# upgraded\n")
    Dciodvfy().source_errors(files["src"])
    assert runs(fake).count("src.dcm") == 2


def test_memory_holds_a_bounded_number_of_sources(fake: Path, files: dict[str, Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Source results beyond MEMORY_ENTRIES leave memory (they stay in the user's cache), so a
    score of 50,000 instances does not keep 50,000 lists of error lines; evicted sources are
    read back from the disk store, not validated again, and give the same verdict."""
    from midib.score import conformance
    monkeypatch.setattr(conformance, "MEMORY_ENTRIES", 1)
    engine = Dciodvfy()
    pairs = [(files["src"], files["bad"]), (files["edited"], files["bad"]), (files["src"], files["bad"])]
    found = engine.introduced_many(pairs, workers=2)
    assert found[0] == found[2] == [INTRODUCED]
    assert len(engine._cache) == 1 and not engine._key_locks
    assert runs(fake).count("src.dcm") == 1
