"""YAML with limits: ordinary files load as safe_load does; billion laughs, giants refused."""

import time
from pathlib import Path

import pytest
import yaml

from flows.yaml_safe import (
    MAX_ALIASES,
    DocumentTooLarge,
    YamlLimitError,
    expanded_size,
    load_yaml,
    read_text_limited,
)

CONFIG = """\
defaults: &defaults
  horizon: 18
  engine: local
run:
  <<: *defaults
  horizon: 12
whatif:
  <<: *defaults
scenario:
  capacity:
    - {location: DC-N, start: 2026-12, end: 2027-02, extra_shift_pct: 20}
"""


def billion_laughs(levels: int = 9, fan: int = 9) -> str:
    lines = ['lol0: &lol0 "lol"']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*lol{level - 1}"] * fan)
        lines.append(f"lol{level}: &lol{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_an_ordinary_file_loads_as_safe_load_does() -> None:
    assert load_yaml(CONFIG) == yaml.safe_load(CONFIG)
    assert load_yaml("") is None
    assert load_yaml("a: [1, 2]\n") == {"a": [1, 2]}


@pytest.mark.parametrize("text", [billion_laughs(), billion_laughs(levels=30, fan=2)])
def test_billion_laughs_is_refused_quickly(text: str) -> None:
    start = time.perf_counter()
    with pytest.raises(YamlLimitError, match=rf"more than {MAX_ALIASES} aliases"):
        load_yaml(text)
    assert time.perf_counter() - start < 1.0


def test_expansion_is_bounded_even_when_more_aliases_are_allowed() -> None:
    start = time.perf_counter()
    with pytest.raises(YamlLimitError, match="expands to more than 100000 values"):
        load_yaml(billion_laughs(), max_aliases=1000)
    assert time.perf_counter() - start < 1.0
    # the same shape, small, is fine: 1 + 3 + 9 + 27 values in lol3
    assert len(load_yaml(billion_laughs(levels=3, fan=3), max_aliases=1000)["lol3"]) == 3


def test_expanded_size_counts_each_use_of_a_shared_node() -> None:
    node = yaml.compose(billion_laughs(levels=4, fan=2))
    assert node is not None
    # the top mapping: 1 + 5 keys + lol0..lol4 (1, 3, 7, 15, 31 values)
    assert expanded_size(node, 10_000) == 1 + 5 + (1 + 3 + 7 + 15 + 31)


def test_a_value_that_contains_itself_is_refused() -> None:
    with pytest.raises(YamlLimitError, match="contains itself"):
        load_yaml("a: &a [1, *a]\n")


def test_a_document_over_the_size_is_refused_before_parsing() -> None:
    text = "x: " + "a" * 2_000
    with pytest.raises(YamlLimitError, match="2,003 bytes, more than the 1,000 allowed"):
        load_yaml(text, max_bytes=1_000)


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(YamlLimitError, match="nests deeper"):
        load_yaml("[" * 50_000 + "]" * 50_000)


def test_limit_errors_are_yaml_errors_and_large_files_are_os_errors() -> None:
    # Callers that already report yaml.YAMLError / OSError report these without new code.
    assert issubclass(YamlLimitError, yaml.YAMLError)
    assert issubclass(DocumentTooLarge, OSError)


def test_a_large_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "config.yaml"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: large on stat, nothing to read
    start = time.perf_counter()
    with pytest.raises(DocumentTooLarge, match="52,428,800 bytes, more than the 1,000,000"):
        read_text_limited(big)
    assert time.perf_counter() - start < 0.5
    small = tmp_path / "scenario.yaml"
    small.write_text(CONFIG, encoding="utf-8")
    assert read_text_limited(small) == CONFIG
