"""Every relative link and anchor in the README resolves, by GitHub's rules; the examples are consistent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.paths import ROOT

README = ROOT / "README.md"
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(\s*([^)\s]+)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
HTML_TARGET = re.compile(r"<a\s[^>]*href=\"([^\"]+)\"", re.I)
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
EXPLICIT_ANCHOR = re.compile(r"<a\s[^>]*(?:id|name)=\"([^\"]+)\"", re.I)


def prose(text: str) -> str:
    """The markdown without fenced code blocks, where nothing is a link or a heading."""
    return FENCE.sub("", text)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: rendered text, lower case, punctuation dropped, spaces -> '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link shows its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    text = re.sub(r"(\*\*|__|\*|_)(.+?)\1", r"\2", text)  # emphasis markers are not text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor of a markdown file: its headings' (with GitHub's -1, -2 for repeats) and explicit ones."""
    text = prose(path.read_text(encoding="utf-8"))
    found: set[str] = set(EXPLICIT_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for _, title in HEADING.findall(text):
        anchor = github_anchor(title)
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def relative_targets(path: Path) -> list[str]:
    """Link targets that stay in the repository: no scheme, no mail address."""
    text = prose(path.read_text(encoding="utf-8"))
    targets = LINK.findall(text) + IMAGE.findall(text) + REFERENCE.findall(text) + HTML_TARGET.findall(text)
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I)]


def broken_links(path: Path) -> list[str]:
    """The relative links of ``path`` whose file or anchor does not exist."""
    broken = []
    for target in relative_targets(path):
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no file {file_part}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no anchor #{anchor} in {linked.name}")
    return broken


def test_every_relative_link_and_anchor_of_the_readme_resolves() -> None:
    assert relative_targets(README), "the link parser found nothing: it is broken, not the README"
    assert broken_links(README) == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Quick start", "quick-start"),
        ("4. Scraping with the ServiceMonitor", "4-scraping-with-the-servicemonitor"),
        (
            "Optional: escalation through an Alertmanager webhook",
            "optional-escalation-through-an-alertmanager-webhook",
        ),
        ("`soda_up` and `--poll.max-age`", "soda_up-and---pollmax-age"),
        ("What's new? **Fast** [links](x.md)", "whats-new-fast-links"),
    ],
)
def test_anchors_follow_githubs_rules(heading: str, anchor: str) -> None:
    assert github_anchor(heading) == anchor


def test_the_checker_finds_a_dead_file_a_dead_anchor_and_a_repeated_heading(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Part\n\n## Part\n")
    page = tmp_path / "page.md"
    page.write_text(
        '# Page\n\n<a id="here"></a>\n[a](#page) [b](#here) [c](other.md#part-1) [d](https://x.test/y.md)\n'
        "[dead](kubernetes.md) [gone](#nowhere) [far](other.md#part-2)\n\n```\n[in code](nothing.md)\n```\n"
    )
    assert broken_links(page) == [
        "kubernetes.md: no file kubernetes.md",
        "#nowhere: no anchor #nowhere in page.md",
        "other.md#part-2: no anchor #part-2 in other.md",
    ]


def _blocks(text: str) -> list[str]:
    return [match.group(0) for match in FENCE.finditer(text)]


def test_quick_start_installs_into_a_virtualenv() -> None:
    text = README.read_text(encoding="utf-8")
    quick = text[text.index("## Quick start") : text.index("## How incidents are counted")]
    first = _blocks(quick)[0]
    assert first.index("python3 -m venv .venv && . .venv/bin/activate") < first.index("pip install .")


def test_the_simulator_example_does_not_collide_with_a_running_demo() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The Soda Cloud simulator") : text.index("## Dashboards and alerts")]
    run_alone = next(block for block in _blocks(section) if "simulate --web.listen-address" in block)
    exporter_lines = [
        line for line in run_alone.splitlines() if re.search(r"soda-incidents-exporter(?! simulate)", line)
    ]
    assert exporter_lines and all("--web.listen-address" in line for line in exporter_lines)
    assert ":9877" not in run_alone
    update = next(block for block in _blocks(section) if "incident update" in block)
    assert "SODA_CLOUD_URL=http://127.0.0.1:8080 " in update, "incident update pointed at the simulator"


def test_the_backfill_demo_stops_at_yesterday_as_the_caveats_advise() -> None:
    text = README.read_text(encoding="utf-8")
    assert "Prefer `--to` yesterday." in text
    demo = next(block for block in _blocks(text) if "backfill --demo" in block)
    assert re.search(r"--to \"\$\(date -u -d yesterday \+%F\)\"", demo), demo
