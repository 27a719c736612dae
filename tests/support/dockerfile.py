"""Small, dependency-free readers for the Dockerfile, .dockerignore and the exporter's default port."""

from __future__ import annotations

import importlib
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field

from tests.support.paths import ROOT

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass
class Instruction:
    """One Dockerfile instruction: upper-cased keyword, raw argument text and its line."""

    keyword: str
    args: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON (exec) form of the arguments, or None when written in shell form."""
        try:
            value = json.loads(self.args)
        except ValueError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None

    def flags(self) -> dict[str, str]:
        """Leading ``--name=value`` flags (``--from``, ``--mount``, ``--chown``...)."""
        found: dict[str, str] = {}
        for token in shlex.split(self.args):
            if not token.startswith("--"):
                break
            name, _, value = token[2:].partition("=")
            found[name] = value
        return found

    def operands(self) -> list[str]:
        """Arguments after the leading flags, split like a shell would."""
        tokens = self.exec_form() or shlex.split(self.args)
        return [t for t in tokens if not t.startswith("--")] if tokens else []


@dataclass
class Stage:
    """A build stage: its base image, optional alias and instructions."""

    base: str
    alias: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        """Every instruction of this stage with ``keyword``."""
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        """The last instruction with ``keyword`` (the one that wins), if any."""
        found = self.all(keyword)
        return found[-1] if found else None


def parse_instructions(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions, joining ``\\`` continuations and dropping comments."""
    result: list[Instruction] = []
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer.append(stripped[:-1].strip())
            continue
        buffer.append(stripped)
        keyword, _, args = " ".join(part for part in buffer if part).partition(" ")
        result.append(Instruction(keyword.upper(), args.strip(), start))
        buffer = []
    if buffer:
        raise ValueError(f"Dockerfile ends inside a line continuation started on line {start}")
    return result


def global_args(preamble: list[Instruction]) -> dict[str, str]:
    """Defaults of the ``ARG`` instructions before the first ``FROM`` (the ones FROM may use)."""
    defaults: dict[str, str] = {}
    for instruction in preamble:
        if instruction.keyword == "ARG":
            for token in shlex.split(instruction.args):
                name, _, value = token.partition("=")
                defaults[name] = value
    return defaults


def substitute(word: str, defaults: dict[str, str]) -> str:
    """Expand ``$NAME`` and ``${NAME}`` from ``defaults`` (unset names expand to nothing)."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: defaults.get(m[1] or m[2], ""), word)


def parse_stages(text: str) -> tuple[list[Instruction], list[Stage]]:
    """Group instructions by ``FROM``: (global instructions before the first FROM, stages).

    A stage's base has the global ``ARG`` defaults substituted, as a build without --build-arg sees it.
    """
    preamble: list[Instruction] = []
    stages: list[Stage] = []
    for instruction in parse_instructions(text):
        if instruction.keyword == "FROM":
            words = [w for w in instruction.args.split() if not w.startswith("--")]
            alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(substitute(words[0], global_args(preamble)), alias, []))
        elif stages:
            stages[-1].instructions.append(instruction)
        else:
            preamble.append(instruction)
    return preamble, stages


def env_names(instruction: Instruction) -> list[str]:
    """Variable names set by an ``ENV`` or ``ARG`` instruction (``k=v`` pairs or legacy ``k v``)."""
    tokens = shlex.split(instruction.args)
    if instruction.keyword == "ENV" and tokens and "=" not in tokens[0]:
        return [tokens[0]]
    return [t.split("=", 1)[0] for t in tokens]


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Translate a .dockerignore glob (``*``, ``?``, ``**``, ``[...]``) to an anchored regex."""
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.index("]", i)
            out.append(pattern[i : end + 1])
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


def dockerignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """(is_exception, regex) per non-comment line, in file order."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        cleaned = line[1:].strip() if negate else line
        cleaned = cleaned.strip("/") or "."
        rules.append((negate, _pattern_regex(cleaned)))
    return rules


def is_ignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for negate, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            ignored = not negate
    return ignored


def _port_of(address: str) -> int:
    """The port of a ``host:port`` listen address."""
    return int(str(address).rsplit(":", 1)[1])


def default_listen_port() -> int:
    """The exporter's default listen port, from ``exporter.config.flags`` or else from ``--help``."""
    try:
        config = importlib.import_module("exporter.config.flags")
    except ImportError:
        config = None
    if config is not None:
        for name in ("DEFAULT_LISTEN_ADDRESS", "DEFAULT_WEB_LISTEN_ADDRESS", "LISTEN_ADDRESS"):
            value = getattr(config, name, None)
            if isinstance(value, str) and ":" in value:
                return _port_of(value)
        port = getattr(config, "DEFAULT_PORT", None)
        if isinstance(port, int):
            return port
    code = "import sys; from exporter.cli import main; sys.argv[0] = 'soda-incidents-exporter'; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    match = re.search(r"--web\.listen-address.*?:(\d{2,5})\b", result.stdout, re.DOTALL)
    if result.returncode != 0 or match is None:
        raise AssertionError(
            f"cannot read the default listen port from --help:\n{result.stdout}{result.stderr}"
        )
    return int(match.group(1))
