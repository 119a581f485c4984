"""What every benchmark script shares: the machine table and writing its section of the docs."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cores() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{usable} usable of {os.cpu_count()}"


def machine_rows(**extra: str) -> list[str]:
    """A Markdown table of the machine the figures were measured on."""
    rows = [
        "| machine | |",
        "| --- | --- |",
        f"| CPU | {cpu_model()} |",
        f"| cores | {cores()} |",
        f"| Python | {platform.python_version()} ({platform.python_implementation()}, {platform.machine()}) |",
    ]
    rows += [f"| {k} | {v} |" for k, v in extra.items()]
    rows.append(f"| OS | {platform.system()} {platform.release()} |")
    return rows


def write_section(path: Path, heading: str, section: str) -> None:
    """Replace the ``heading`` section of ``path`` (or append it), keeping the other sections."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    if start is None:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        rest = "".join(lines[end:])
        text = "".join(lines[:start]) + section + ("\n" + rest if rest else "")
    path.write_text(text, encoding="utf-8")
