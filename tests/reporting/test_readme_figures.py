"""The README's demo figures are a real demo run's: its marked blocks equal the ones generated
from a fresh `sop demo` and the README's what-if (the run the browser tests read, too)."""

import re
from pathlib import Path
from typing import Any

import pytest

from docs.readme_figures import README, demo_figures, render_blocks, rewrite

README_TEXT = README.read_text(encoding="utf-8")


@pytest.mark.integration
def test_readme_blocks_are_what_a_demo_run_produces(demo_run: Any) -> None:
    figures = demo_figures(demo_run.out, demo_run.scenario)
    regenerated = rewrite(README_TEXT, render_blocks(figures))
    assert regenerated == README_TEXT, (
        "README.md quotes another demo run: `python -m docs.readme_figures sop-demo` after "
        "`make demo` and the README's what-if"
    )


@pytest.mark.integration
def test_readme_verdict_is_the_line_the_command_prints(demo_run: Any) -> None:
    (printed,) = [ln for ln in demo_run.whatif_stdout.splitlines() if ln.startswith("verdict:")]
    assert printed in README_TEXT
    assert printed == f"verdict:  {demo_figures(demo_run.out, demo_run.scenario).verdict}"


@pytest.mark.integration
def test_readme_output_tree_names_files_the_demo_writes(demo_run: Any) -> None:
    tree = README_TEXT.split("sop-demo/inputs/*.csv", 1)[1].split("```", 1)[0]
    names = set(re.findall(r"[\w-]+\.(?:parquet|html|json)", tree)) - {"rejects.parquet"}
    assert {"consensus_plan.parquet", "report.html", "manifest.json"} <= names
    written = {p.name for p in Path(demo_run.version).rglob("*")}
    assert names <= written, names - written
    assert (Path(demo_run.out) / "sop.duckdb").exists()
    for folder in set(re.findall(r"sop-demo/([\w=.-]+)/", tree)) - {"runs", "cache"}:
        assert (Path(demo_run.out) / folder).is_dir(), folder
    assert (Path(demo_run.out) / "demo-config.yaml").is_file()


def test_rewrite_replaces_only_the_marked_block() -> None:
    text = "a\n<!-- demo:x -->\nold\n<!-- /demo:x -->\nb\n"
    new = rewrite(text, {"x": "new\nlines"})
    assert new == "a\n<!-- demo:x -->\nnew\nlines\n<!-- /demo:x -->\nb\n"
    with pytest.raises(ValueError, match="'y' must be marked exactly once"):
        rewrite(text, {"y": "z"})


def test_every_generated_block_is_marked_in_the_readme() -> None:
    for name in ("world", "series", "whatif"):
        assert README_TEXT.count(f"<!-- demo:{name} -->") == 1
        assert README_TEXT.count(f"<!-- /demo:{name} -->") == 1
