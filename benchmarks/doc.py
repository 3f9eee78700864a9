"""Write one benchmark's section of docs/benchmarks.md, leaving every other section as it is."""

import os
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def update_section(marker: str, title: str, body: str, path: Path = DOC) -> None:
    """Replace the text between `<!-- marker:start -->` and `<!-- marker:end -->` of the doc
    (creating the doc or the section if absent); text after `<!-- marker:notes -->` is kept."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    notes_marker = f"<!-- {marker}:notes -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    found = pattern.search(text)
    # Hand-written notes (from the notes marker to the end marker) survive a re-run.
    notes = ""
    if found and notes_marker in found.group(0):
        notes = notes_marker + found.group(0).split(notes_marker, 1)[1][: -len(end)]
    block = f"{start}\n{title}\n\n{body.rstrip()}\n{notes}{end}"
    if found:
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def machine() -> str:
    """One line naming the machine the figures come from."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                      .splitlines() if line.startswith("MemTotal"))
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        mem = "?"
    return f"{os.cpu_count()} cores ({cpu}), {mem} RAM, Python {platform.python_version()}"
