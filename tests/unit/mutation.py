"""Mutation testing of the pure core, on demand: ``python -m tests.unit.mutation`` (never in CI).

Runs mutmut as configured in pyproject.toml ([tool.mutmut]: the row fold, the snapshot and their pure
helpers, against tests/unit/ alone), prints the kill ratio per module, and fails when fewer than 90 % of
the mutants are killed or when a surviving mutant is not explained in tests/unit/equivalent_mutants.md.
Mutant numbers change whenever the code does, so a survivor is recognised by its function and mutated line.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXPLAINED = Path(__file__).with_name("equivalent_mutants.md")
MIN_KILLED = 0.90
# A mutant that made the tests time out was detected too (an infinite loop, typically).
DETECTED = ("killed", "timeout")
_RESULT = re.compile(r"^\s*(\S+__mutmut_\d+): (.+)$")


def parse_results(text: str) -> dict[str, str]:
    """Mutant name -> status, from the output of ``mutmut results --all true``."""
    return {m.group(1): m.group(2).strip() for m in map(_RESULT.match, text.splitlines()) if m}


def function_of(mutant: str) -> str:
    """The dotted function of a mutant: ``m.xǁCǁf__mutmut_3`` is ``m.C.f``, ``m.x_f__mutmut_1`` is ``m.f``."""
    module, _, mangled = mutant.split("__mutmut_")[0].rpartition(".")
    # mutmut names a method xǁClassǁmethod and a function x_function.
    name = mangled[2:].replace("ǁ", ".") if mangled.startswith("xǁ") else mangled.removeprefix("x_")
    return f"{module}.{name}"


def module_of(mutant: str) -> str:
    """The module a mutant belongs to."""
    return mutant.split("__mutmut_")[0].rpartition(".")[0]


def mutated_lines(diff: str) -> list[str]:
    """The lines a mutant adds, whitespace collapsed, from the output of ``mutmut show``."""
    return [" ".join(line[1:].split()) for line in diff.splitlines() if line.startswith("+ ")]


def sections(explained: str) -> dict[str, str]:
    """The ``### module.function`` sections of the explanations, whitespace collapsed."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in explained.splitlines():
        if line.startswith("### "):
            current = found.setdefault(line[4:].strip().strip("`"), [])
        else:
            current.append(line)
    return {name: " ".join(" ".join(lines).split()) for name, lines in found.items()}


def unexplained(survivors: Mapping[str, Iterable[str]], explained: str) -> list[str]:
    """The survivors whose mutated line is not quoted in the section of their function."""
    quoted = sections(explained)
    return sorted(
        name
        for name, lines in survivors.items()
        if not lines or not all(f"`{line}`" in quoted.get(function_of(name), "") for line in lines)
    )


def summary(results: Mapping[str, str]) -> tuple[int, int, list[str]]:
    """(detected, total, one line per module) of a finished run."""
    per_module: dict[str, Counter[str]] = {}
    for name, status in results.items():
        per_module.setdefault(module_of(name), Counter())[status] += 1
    lines = []
    for module, counts in sorted(per_module.items()):
        detected, total = sum(counts[s] for s in DETECTED), sum(counts.values())
        lines.append(f"{module}: {detected}/{total} killed, {dict(counts)}")
    detected = sum(1 for status in results.values() if status in DETECTED)
    return detected, len(results), lines


def _mutmut(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    """Run mutmut afresh (or reuse the last run) and check the ratio and the explained survivors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--reuse", action="store_true", help="report on the last run in mutants/, do not rerun"
    )
    args = parser.parse_args(argv)
    if importlib.util.find_spec("mutmut") is None:
        print("mutmut is not installed: pip install -e '.[test,mutation]'", file=sys.stderr)
        return 2
    if not args.reuse:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)  # mutmut's scratch copy; results are cached there
        subprocess.run([sys.executable, "-m", "mutmut", "run"], cwd=ROOT, check=True)
    results = parse_results(_mutmut("results", "--all", "true"))
    if not results:
        print("no mutmut results found", file=sys.stderr)
        return 1
    detected, total, lines = summary(results)
    print("\n".join(lines))
    print(f"total: {detected}/{total} killed ({detected / total:.1%})", flush=True)
    survivors = {n: mutated_lines(_mutmut("show", n)) for n, s in results.items() if s not in DETECTED}
    missing = unexplained(survivors, EXPLAINED.read_text(encoding="utf-8"))
    for name in missing:
        print(f"not explained in {EXPLAINED.name}: {name}: {survivors[name]}", file=sys.stderr)
    return 0 if detected >= MIN_KILLED * total and not missing else 1


if __name__ == "__main__":
    sys.exit(main())
