"""The stage benchmark's table arithmetic: the figures in docs/benchmarks.md come from here."""

from typing import Any

from benchmarks.stages import END, START, per_series_table, render, stage_rows

MB = 2**20


def result(size: str, series: int, fit: float, other: float, cpu: float) -> dict[str, Any]:
    """One size's raw result as `run_child` returns it; `other` is spread over the stages."""
    seconds = {
        "ingest_and_check": other / 4, "baselines": fit + other / 4,
        "fit_forecast": fit * 0.6, "fit_cross_validation": fit * 0.4,
        "reconcile": other / 4, "publish": other / 4, "report": other / 8,
        "sop_run_total": fit + other + 10,
    }
    seconds |= {f"{k}_cpu": v / 2 for k, v in list(seconds.items())}
    peak = {s: 100 * MB for s in ("ingest_and_check", "baselines", "reconcile", "publish")}
    return {"size": size, "series": series, "plan_rows": series * 18, "seconds": seconds,
            "peak_rss": peak | {"total": 300 * MB}, "peak_rss_self": peak | {"total": 200 * MB},
            "maxrss_self": 200 * MB, "cpu_seconds": cpu, "load_before": [1.0, 1.0, 1.0]}


def test_stage_rows_split_fitting_from_the_rest_of_the_baseline_stage() -> None:
    rows = stage_rows(result("10k", 10_000, fit=400.0, other=40.0, cpu=500.0))
    assert rows["baselines: model fitting"] == 400.0
    assert rows["baselines: rest"] == 10.0
    assert rows["publish (stage, audit, store)"] == 10.0 - 5.0
    assert sum(rows.values()) == 440.0


def test_per_series_ratios_are_time_per_series_at_the_larger_size_over_the_smaller() -> None:
    small = result("10k", 10_000, fit=400.0, other=40.0, cpu=500.0)
    large = result("100k", 100_000, fit=4800.0, other=300.0, cpu=5000.0)
    table = {line.split(" | ")[0].lstrip("| "): line.rstrip(" |").split(" | ")[1:]
             for line in per_series_table(small, large) if line.startswith("| ")}
    assert table["model fitting, wall"] == ["40.0", "48.0", "1.20"]
    assert table["everything but model fitting, wall"] == ["4.0", "3.0", "0.75"]
    assert table["whole `sop run`, CPU of process + children"] == ["50.0", "50.0", "1.00"]


def test_render_frames_the_section_and_reports_the_non_fitting_share() -> None:
    info = {"nproc": 2, "cpu": "x", "ram_gb": 24, "os": "linux", "python": "3.11",
            "statsforecast": "2"}
    text = render([result("10k", 10_000, 400.0, 40.0, 500.0),
                   result("100k", 100_000, 4800.0, 300.0, 5000.0)], info, "cmd", "dask")
    lines = text.split("\n")
    assert lines[0] == START and lines[-1] == END
    share = next(line for line in lines if line.startswith("| **everything but model"))
    assert "**9.1 %**" in share  # 40 of 440 s
    assert "Time per series in ms, 10k (10000 series) and 100k (100000):" in lines


def test_memory_section_shows_peaks_not_times_and_lands_beside_the_stages_section(
    tmp_path,
) -> None:
    from benchmarks.stages import render_memory, write_section

    info = {"nproc": 2, "cpu": "x", "ram_gb": 24, "os": "linux", "python": "3.11",
            "statsforecast": "2"}
    runs = [result("100k", 100_000, 4800.0, 300.0, 5000.0)]
    memory = render_memory(runs, info, "cmd", "dask")
    assert "| total | 200 | 300 |" in memory
    assert "| ru_maxrss (process) | 200 |  |" in memory
    assert "model fitting" not in memory and "wall" not in memory
    doc = tmp_path / "benchmarks.md"
    write_section(doc, render(runs, info, "cmd", "dask"))
    write_section(doc, memory)
    text = doc.read_text()
    assert text.count("<!-- stages:start -->") == 1 and text.count("<!-- memory:end -->") == 1
    write_section(doc, memory.replace("| total | 200 | 300 |", "| total | 201 | 300 |"))
    text = doc.read_text()
    assert "| total | 201 | 300 |" in text and "| total | 200 | 300 |" in text  # stages kept


def test_stand_in_models_keep_the_candidate_names_with_cheap_models(monkeypatch) -> None:
    import forecasting.models as models
    from benchmarks.stages import stand_in_models

    # Undone after the test: stand_in_models rebinds these two names.
    monkeypatch.setattr(models, "AutoETS", models.AutoETS)
    monkeypatch.setattr(models, "DynamicOptimizedTheta", models.DynamicOptimizedTheta)
    real = models.seasonal_set(12)
    stand_in_models()
    cheap = models.seasonal_set(12)
    assert cheap.candidates == real.candidates
    kinds = {m.alias: type(m.model).__name__ for m in cheap.models}
    assert kinds["AutoETS"] == "SeasonalNaive"
    assert kinds["DynamicOptimizedTheta"] == "Naive"
