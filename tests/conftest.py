"""Shared fixtures: benchmarks are made by the generator itself, once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: tests never read or fill the user's cache (a cached key index would hide the code under
#: test); tests of the cache itself point MIDIB_CACHE_DIR at a temporary folder
os.environ["MIDIB_CACHE_DIR"] = "off"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        for item in items:
            if item.get_closest_marker("slow"):
                item.own_markers = [m for m in item.own_markers if m.name != "slow"]
        config.option.markexpr = ""


@pytest.fixture(scope="session")
def mini_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `mini` benchmark, seed 0, generated once for the whole session (read-only!)."""
    from midib.cli import main

    root = tmp_path_factory.mktemp("bench") / "mini"
    assert main(["generate", str(root), "--preset", "mini", "--seed", "0"]) == 0
    return root
