"""Generates the Results page from benchmarks/results/ at build time (mkdocs-gen-files runs this script):
every figure on it is read from a result JSON, with the command, commit, torch version, device and date
that JSON's stamp records. Nothing on the page is typed by hand.

    python docs/gen_results.py --print   # the page's Markdown on stdout, without building the site
"""
from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MAX_ROWS = 40
STAMP_KEYS = ("command", "commit", "torch", "device", "date")


def script_summary(folder: str) -> str:
    """The first line of the docstring of benchmarks/<folder>.py (or of the docs script that made it)."""
    for path in (ROOT / "benchmarks" / f"{folder}.py", ROOT / "docs" / "scripts" / "make_demo.py"):
        if path.is_file() and (folder != "demos" or path.name == "make_demo.py"):
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            return doc.strip().splitlines()[0] if doc.strip() else ""
    return {"eval_runs": "`gankit eval` on trained runs, recorded as they were printed"}.get(folder, "")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 120 else text[:117] + "..."


def leaves(obj, prefix: str = ""):
    """(dotted key, value) for every scalar in a nested result, stamp and long notes left out."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if prefix == "" and key in ("stamp", "note", "reading", "command", "argv", "config"):
                continue
            yield from leaves(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(obj, list) and obj and all(not isinstance(v, (dict, list)) for v in obj) and len(obj) <= 12:
        yield prefix, obj
    elif isinstance(obj, list):
        for i, value in enumerate(obj[:20]):
            yield from leaves(value, f"{prefix}[{i}]")
    else:
        yield prefix, obj


def stamp_lines(result: dict) -> list[str]:
    stamp = result.get("stamp", {}) if isinstance(result, dict) else {}
    lines = ["| made with | |", "| --- | --- |"]
    for key in STAMP_KEYS:
        value = stamp.get(key) or "not recorded"
        lines.append(f"| {key} | {'`' + value + '`' if key == 'command' and value != 'not recorded' else value} |")
    if stamp.get("backfilled"):
        lines.append(f"| note | {stamp['backfilled']} |")
    return lines


def figures(path: Path, result: dict) -> list[tuple[str, Path]]:
    """(caption, file) for each picture a result names in "figures" (files beside its JSON)."""
    named = result.get("figures") if isinstance(result, dict) else None
    return [(caption, path.parent / name) for caption, name in (named or {}).items()
            if (path.parent / name).is_file()]


def result_section(path: Path) -> list[str]:
    result = json.loads(path.read_text())
    out = [f"### `{path.relative_to(RESULTS)}`", ""]
    if isinstance(result, dict):
        for key in ("reading", "note"):
            if isinstance(result.get(key), str):
                out += [result[key], ""]
        out += stamp_lines(result) + [""]
    for caption, file in figures(path, result):
        out += [f"![{caption}](results/{file.relative_to(RESULTS).as_posix()})", ""]
    rows = [(k, v) for k, v in leaves(result) if k]
    if rows:
        out += ["| figure | value |", "| --- | --- |"]
        out += [f"| `{k}` | {_fmt(v)} |".replace("\n", " ") for k, v in rows[:MAX_ROWS]]
        if len(rows) > MAX_ROWS:
            out.append(f"| … | {len(rows) - MAX_ROWS} more in the JSON |")
        out.append("")
    return out


def page() -> str:
    out = ["# Results", "",
           "Generated from `benchmarks/results/` when the site is built (`docs/gen_results.py`): each result "
           "with the command, commit, torch version, device and date its JSON records. Results that later "
           "runs superseded are listed at the end, from `benchmarks/results/archive/`. What question each "
           "script answers: `benchmarks/README.md`.", ""]
    folders = sorted(p for p in RESULTS.iterdir() if p.is_dir() and p.name != "archive")
    for folder in folders:
        out += [f"## {folder.name}", "", script_summary(folder.name), ""]
        for path in sorted(folder.glob("*.json")):
            out += result_section(path)
    out += ["## Archive", "", "| result | command | date |", "| --- | --- | --- |"]
    for path in sorted((RESULTS / "archive").rglob("*.json")):
        stamp = json.loads(path.read_text()).get("stamp", {})
        command = stamp.get("command", "not recorded")
        out.append(f"| `{path.relative_to(RESULTS)}` | {'`' + command + '`' if command != 'not recorded' else command} "
                   f"| {stamp.get('date', '')} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__" and "--print" in sys.argv:
    print(page())
else:
    import mkdocs_gen_files

    with mkdocs_gen_files.open("results.md", "w") as fh:
        fh.write(page())
    # the pictures results name, copied into the site beside the page (never into docs/ by hand)
    for json_path in RESULTS.rglob("*.json"):
        for _, file in figures(json_path, json.loads(json_path.read_text())):
            with mkdocs_gen_files.open(f"results/{file.relative_to(RESULTS).as_posix()}", "wb") as fh:
                fh.write(file.read_bytes())
