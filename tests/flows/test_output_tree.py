"""The output tree: one layout, the same behaviour on disk and in memory."""

import posixpath
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from data_contracts.run_records import BaselineResult
from flows.output_tree import OutputTree

PLAN_COLUMNS = ["cycle", "plan_version", "sku", "location", "period", "consensus_demand"]


@pytest.fixture(params=["local", "memory"])
def tree(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OutputTree]:
    t = OutputTree.local(tmp_path / "out") if request.param == "local" else OutputTree.in_memory()
    yield t
    if not t.is_local:
        t.remove(t.root)


def _plan(cycle: str, version: int, qty: float) -> pd.DataFrame:
    return pd.DataFrame({"cycle": [cycle], "plan_version": [version], "sku": ["A"],
                         "location": ["L"], "period": [cycle], "consensus_demand": [qty]})


def _publish(tree: OutputTree, cycle: str, qty: float, inputs: pd.DataFrame | None = None
             ) -> int:
    version = max(tree.versions(cycle), default=0) + 1
    frames = {"consensus_plan": _plan(cycle, version, qty)}
    if inputs is not None:
        frames["inputs/sales_forecast"] = inputs
    staging = tree.stage_version(cycle, version, frames, "<html></html>", {"v": version})
    tree.promote(staging, cycle, version)
    tree.mark_published(cycle, version)  # what publishing does once the store committed
    tree.set_current(cycle, version)
    return version


def test_versions_current_and_the_layout_readers_see(tree: OutputTree) -> None:
    assert tree.cycles() == [] and tree.versions("2026-01") == []
    assert _publish(tree, "2026-01", 1.0) == 1
    assert _publish(tree, "2026-01", 2.0) == 2
    assert tree.versions("2026-01") == [1, 2] and tree.current("2026-01") == 2
    assert tree.version_dir("2026-01", 2) == posixpath.join(tree.root, "cycle=2026-01",
                                                             "version=2")
    plan = tree.read_version_table("2026-01", 2, "consensus_plan")
    assert plan is not None and plan["consensus_demand"].tolist() == [2.0]
    manifest = posixpath.join(tree.version_dir("2026-01", 2), "manifest.json")
    assert tree.read_json(manifest) == {"v": 2} and tree.is_complete("2026-01", 2)
    # Staging folders are private: nothing of them is a version.
    assert tree.versions("2026-01") == [1, 2] and tree.cycles() == ["2026-01"]


def test_current_never_moves_back_to_an_older_version(tree: OutputTree) -> None:
    _publish(tree, "2026-01", 1.0)
    _publish(tree, "2026-01", 2.0)
    tree.set_current("2026-01", 1)  # a slower concurrent run finishing last
    assert tree.current("2026-01") == 2


def test_a_version_folder_is_never_rewritten(tree: OutputTree) -> None:
    _publish(tree, "2026-01", 1.0)
    staging = tree.stage_version("2026-01", 1, {"consensus_plan": _plan("2026-01", 1, 9.0)},
                                 "", {})
    with pytest.raises(FileExistsError, match="never rewritten"):
        tree.promote(staging, "2026-01", 1)
    plan = tree.read_version_table("2026-01", 1, "consensus_plan")
    assert plan is not None and plan["consensus_demand"].tolist() == [1.0]


def test_resolve_version_skips_incomplete_folders(tree: OutputTree) -> None:
    _publish(tree, "2026-01", 1.0)
    # A folder without its manifest (written last) is not a version anyone may read.
    tree.write_frame(posixpath.join(tree.version_dir("2026-01", 2), "consensus_plan.parquet"),
                     _plan("2026-01", 2, 5.0))
    assert tree.resolve_version("2026-01") == 1
    assert tree.resolve_version("2026-01", 2) is None
    assert tree.resolve_version("2026-01", 1) == 1
    assert tree.resolve_version("2026-02") is None


def test_past_plans_and_previous_inputs_come_from_earlier_current_versions(
    tree: OutputTree,
) -> None:
    sales = pd.DataFrame({"sku": ["A"], "qty": [3.0]})
    _publish(tree, "2026-01", 1.0, inputs=sales)
    _publish(tree, "2026-01", 2.0, inputs=sales.assign(qty=4.0))
    _publish(tree, "2026-02", 7.0)  # no inputs snapshot: an older cycle's is used
    _publish(tree, "2026-03", 9.0)  # the cycle being planned and later ones are left out
    past = tree.past_plans("2026-03", PLAN_COLUMNS)
    assert past is not None
    assert sorted(zip(past["cycle"], past["plan_version"], past["consensus_demand"],
                      strict=True)) == [("2026-01", 2, 2.0), ("2026-02", 1, 7.0)]
    previous = tree.previous_inputs("2026-03")
    assert previous is not None and previous["sales_forecast"]["qty"].tolist() == [4.0]
    assert tree.past_plans("2026-01", PLAN_COLUMNS) is None
    assert tree.previous_inputs("2026-01") is None


def test_the_cache_is_complete_or_absent(tree: OutputTree, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    frames = {"a": pd.DataFrame({"x": [1]}), "b": pd.DataFrame({"y": [2]})}
    original = OutputTree.write_frame
    calls = []

    def crash_on_second(self: OutputTree, path: str, df: pd.DataFrame, index: bool = False
                        ) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        original(self, path, df, index)

    monkeypatch.setattr(OutputTree, "write_frame", crash_on_second)
    with pytest.raises(OSError, match="disk full"):
        tree.write_cache("baselines", "k1", frames)
    monkeypatch.setattr(OutputTree, "write_frame", original)
    # The first file was written, then the crash: no cache entry a later run would reuse.
    assert tree.read_cache("baselines", "k1") is None
    assert not tree.exists(tree.cache_dir("baselines", "k1"))
    tree.write_cache("baselines", "k1", frames)
    cached = tree.read_cache("baselines", "k1")
    assert cached is not None and sorted(cached) == ["a", "b"]
    assert cached["b"]["y"].tolist() == [2]


def test_scenarios_are_swapped_in_whole_and_listed_newest_first(tree: OutputTree) -> None:
    def writer(created: str, note: str):  # type: ignore[no-untyped-def]
        def write(folder: str) -> None:
            tree.write_text(posixpath.join(folder, "report.html"), note)
            tree.write_json(posixpath.join(folder, "summary.json"),
                            {"name": note, "created_at": created})
        return write

    target = tree.scenario_dir("2026-01", "promo")
    tree.replace_folder(target, writer("2026-01-02", "promo"))
    tree.replace_folder(tree.scenario_dir("2026-01", "shift"), writer("2026-01-03", "shift"))
    assert [s["name"] for s in tree.scenarios()] == ["shift", "promo"]

    def failing(folder: str) -> None:
        tree.write_text(posixpath.join(folder, "report.html"), "half")
        raise RuntimeError("crash while writing")

    with pytest.raises(RuntimeError):
        tree.replace_folder(target, failing)
    assert tree.read_text(posixpath.join(target, "report.html")) == "promo"
    leftovers = [p for p in tree.fs.ls(posixpath.dirname(target), detail=False)
                 if ".staging-" in str(p) or ".old-" in str(p)]
    assert leftovers == []


def test_workspaces_keep_frames_and_typed_results(tree: OutputTree) -> None:
    ws = tree.workspace("2026-01", "run-1")
    ws.save_frames("baseline", {"baseline_forecast": pd.DataFrame({"f": [1.5]})})
    result = BaselineResult(cache_key="k", reused=False, engine="local", jobs=2, series=1,
                            models={"AutoETS": 1})
    ws.save_result("baseline", result)
    again = tree.workspaces("2026-01")
    assert [w.root for w in again] == [ws.root]
    assert again[0].load_result("baseline", BaselineResult) == result
    assert again[0].load_frames("baseline")["baseline_forecast"]["f"].tolist() == [1.5]
    assert not again[0].has_result("plan")


def test_an_unmarked_folder_is_never_read_as_a_version(tree: OutputTree) -> None:
    sales = pd.DataFrame({"sku": ["A"], "qty": [3.0]})
    _publish(tree, "2026-01", 1.0, inputs=sales)
    # Renamed into place by a run killed before its store commit: complete, but unmarked.
    staging = tree.stage_version("2026-01", 2, {"consensus_plan": _plan("2026-01", 2, 9.0),
                                                "inputs/sales_forecast": sales.assign(qty=9.0)},
                                 "", {"v": 2})
    tree.promote(staging, "2026-01", 2)
    assert tree.version_folders("2026-01") == [1, 2] and tree.versions("2026-01") == [1]
    assert tree.is_complete("2026-01", 2) and not tree.is_published("2026-01", 2)
    assert tree.resolve_version("2026-01") == 1 and tree.resolve_version("2026-01", 2) is None
    with pytest.raises(ValueError, match="not published"):
        tree.set_current("2026-01", 2)
    tree.write_text(posixpath.join(tree.cycle_dir("2026-01"), "CURRENT"), "2\n")  # by hand
    assert tree.current("2026-01") is None
    past = tree.past_plans("2026-02", PLAN_COLUMNS)
    assert past is None  # CURRENT names no published version
    tree.set_current("2026-01", 1)
    previous = tree.previous_inputs("2026-02")
    assert previous is not None and previous["sales_forecast"]["qty"].tolist() == [3.0]
    moved = tree.quarantine("2026-01", 2)
    assert tree.version_folders("2026-01") == [1] and tree.exists(moved)
    assert moved.startswith(tree.path(".quarantine", "cycle=2026-01-version=2-"))


def test_parts_appended_take_their_types_from_the_first_part_with_rows(tree: OutputTree
                                                                       ) -> None:
    """An empty partition first (its number column typed as text by pandas) does not fix the
    file's types: the rows of the next part are written as numbers. Only empty parts: one empty
    file with the first part's columns."""
    empty = pd.DataFrame({"sku": pd.Series(dtype=object), "qty": pd.Series(dtype=object)})
    full = pd.DataFrame({"sku": ["A", "B"], "qty": [1.5, 2.0]})
    path = tree.path("parts", "t.parquet")
    assert tree.append_frames(path, iter([empty, full, empty, full])) == 4
    back = tree.read_frame(path)
    assert back["qty"].dtype == float and back["qty"].tolist() == [1.5, 2.0, 1.5, 2.0]
    only = tree.path("parts", "empty.parquet")
    assert tree.append_frames(only, iter([empty, empty])) == 0
    assert list(tree.read_frame(only).columns) == ["sku", "qty"]
    with pytest.raises(ValueError, match="lacks"):
        tree.append_frames(tree.path("parts", "more.parquet"),
                           iter([full, full.assign(extra=1.0)]))
