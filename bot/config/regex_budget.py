"""A match-time budget for `/regex/` terms: each is run on hostile probe texts in a child
process, and one that does not finish within the budget is reported as catastrophic.

Python's `re` cannot be interrupted (it holds the GIL for a whole search), so the only safe
way to time a regex that may backtrack for hours is another process that can be killed.
Nested quantifiers are rejected earlier, when terms compile; this catches what that static
check cannot see, such as `(a|aa)+$` or `\\d+\\d+\\d+x`.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence

from bot.config.load import Loc, Located
from bot.errors import Problem
from bot.rules.engine import CompiledRule
from bot.rules.terms import Term

BUDGET = 1.0  # seconds per regex over all its probes; a sane term needs milliseconds
STARTUP = 20.0  # generous: the machine may be busy, and this is not what we measure
PROBE_LENGTH = 2000
# Says it is ready, then searches each pattern on its probes and prints its index when done.
_CHILD = """
import json, re, sys
work = json.load(sys.stdin)
print("ready", flush=True)
for i, (source, flags, texts) in enumerate(work):
    pattern = re.compile(source, flags)
    for text in texts:
        pattern.search(text)
    print(i, flush=True)
"""


def probe_texts(source: str) -> list[str]:
    """Runs of the characters a pattern loops on, ending in a character it cannot match:
    the inputs on which backtracking regexes blow up."""
    chars = {c for c in source.casefold() if c.isalnum() or c in " -._"} | set("a0 -")
    pairs = {source[i : i + 2].casefold() for i in range(len(source) - 1)
             if source[i : i + 2].isalnum()}
    texts = [c * PROBE_LENGTH + "\u2603" for c in sorted(chars)]
    texts += [p * (PROBE_LENGTH // 2) + "\u2603" for p in sorted(pairs)][:20]
    return texts


def _regex_terms(rules: Sequence[CompiledRule]) -> list[tuple[int, Term]]:
    seen: set[str] = set()
    out = []
    for i, rule in enumerate(rules):
        for term in (*(t for g in rule.all_groups for t in g), *rule.any_terms,
                     *rule.none_terms):
            if term.kind == "regex" and term.raw not in seen:
                seen.add(term.raw)
                out.append((i, term))
    return out


def _run(terms: Sequence[Term]) -> int:
    """How many of `terms` finished within budget (all: len(terms); -1: no child)."""
    payload = json.dumps([[t.pattern.pattern, int(t.pattern.flags), probe_texts(t.raw)]
                          for t in terms])
    proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _CHILD], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def feed_and_read() -> None:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(payload)
            proc.stdin.close()
        except BrokenPipeError:
            return
        for line in proc.stdout:
            lines.put(line)

    reader = threading.Thread(target=feed_and_read, daemon=True)
    reader.start()
    done = -1  # the child never got going: nothing was measured
    try:
        lines.get(timeout=STARTUP)
        done = 0
        for _ in terms:
            lines.get(timeout=BUDGET)
            done += 1
    except queue.Empty:
        pass
    finally:
        proc.kill()
        proc.wait()
        reader.join(timeout=5)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()
    return done


def _where(rule: int, term: Term, lists: Mapping[str, Sequence[str]]) -> Loc:
    """Where a term is written: in a named term list if it is there, else in its rule."""
    for name, entries in lists.items():
        for j, entry in enumerate(entries):
            if entry == term.raw:
                return ("terms", name, j)
    return ("rules", rule)


def slow_regexes(rules: Sequence[CompiledRule], at: Located,
                 lists: Mapping[str, Sequence[str]] | None = None) -> list[Problem]:
    """An error for each regex term that blows the match-time budget on a probe text, at
    the term list that holds it (`lists`), else at its rule."""
    found = _regex_terms(rules)
    out = []
    while found:
        done = _run([t for _, t in found])
        if done < 0:
            out.append(at.problem(("rules",), "could not time regex terms: the probe process "
                                              "did not start", level="warning"))
            break
        if done >= len(found):
            break
        i, term = found[done]
        out.append(at.problem(_where(i, term, lists or {}),
                              f"regex {term.raw} did not finish within {BUDGET:g}s on a "
                              f"{PROBE_LENGTH}-character probe text: it backtracks "
                              "catastrophically; rewrite it"))
        found = found[done + 1 :]
    return out
