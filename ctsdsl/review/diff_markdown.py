"""`ctsdsl diff --format markdown`: the diff as a pull-request comment that always fits.

A GitHub comment holds 65,536 characters, and a diff of a year's policies ran to 330,000
(issue 19). So the page is written in order of importance, to a budget of MAX_CHARS:

1. a heading and the verdict;
2. a summary table, one row per edit of each pair: the claims it moves (the generated
   claims its witnesses stand for) and the dollars moved on those witnesses;
3. per pair, in folds (`<details>`): the structural changes, the witnesses, the changes with
   no effect, and last the witness claims as JSON.

Each part is a list of items (a change, a witness, a claim). The summary may take half the
budget; the folds share what is left by water-filling (each gets an equal share, and a part
that needs less gives the rest back to the others); the witness claims share whatever the
folds did not use. A part cut short says how many items it left out and names the JSON
output, which always holds everything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from ..errors import printable
from .diff import DiffReport, PairReport, line_text, sources_summary, toggled_parts
from .diff_structure import Change
from .witness import Witness, citing

MAX_CHARS = 60_000  # under GitHub's 65,536 a comment, with room for a bot's own header
MAX_VALUE_CHARS = 600  # one old or new value: a long expression is cut here; JSON has it whole


def _code(text: str | None, *, table: bool = False) -> str:
    """A value as inline code; an absent or empty one is "—" (as an added item's old side is)."""
    if not text:
        return "—"
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + " …"
    text = text.replace("`", "'").replace("\n", " ")
    # Inside a table a bare | would end the cell; GitHub honours \| even inside code there (and only there).
    return "`" + (text.replace("|", "\\|") if table else text) + "`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# ---------------------------------------------------------------- the budget


@dataclass
class _Part:
    """A section of the page: fixed text around a list of items, cut to the items its share allows."""

    head: str
    items: list[str]
    tail: str
    what: str  # the items' name in the note on a cut ("witnesses", "changes")
    note_fmt: str = ""  # set by the page: "… {n} more {what} ..."
    taken: int = -1  # items kept, once the budget is shared

    def note(self, left: int) -> str:
        return self.note_fmt.format(n=left, what=self.what)

    def fixed(self) -> int:
        """What the part costs with no item: its frame and the longest note it could need."""
        return len(self.head) + len(self.tail) + len(self.note(len(self.items)))

    def need(self) -> int:
        return sum(len(i) + 1 for i in self.items)

    def take(self, allowance: int) -> int:
        """Keep the items that fit in `allowance` (beyond the fixed cost), in order; the amount used."""
        used, self.taken = 0, 0
        for item in self.items:
            if used + len(item) + 1 > allowance:
                break
            used += len(item) + 1
            self.taken += 1
        return used

    def render(self) -> str:
        kept = self.items if self.taken < 0 else self.items[:self.taken]
        cut = len(self.items) - len(kept)
        body = "".join(i + "\n" for i in kept)
        return self.head + body + (self.note(cut) if cut else "") + self.tail


def _share(parts: list[_Part], budget: int) -> int:
    """Water-fill `budget` (beyond the parts' fixed costs) over the parts' items; the amount used."""
    used = 0
    waiting = sorted(parts, key=_Part.need)
    while waiting:
        share = max(budget - used, 0) // len(waiting)
        part = waiting.pop(0)
        used += part.take(share if part.need() > share else part.need())
    return used


# ---------------------------------------------------------------- what goes in each part


def _edit(c: Change) -> str:
    """An edit on one line: `rule `x` changed (when, cites) (inherited from `y`)`."""
    if c.toggled:
        return f"{c.kind} `{c.name}` {toggled_parts(c)[0]}"
    fields = f" ({', '.join(d[0] for d in c.details)})" if c.action == "changed" and c.details else ""
    return (f"{c.kind} `{c.name}` {c.action}{fields}"
            + (f" (inherited from `{c.inherited_from}`)" if c.inherited_from else ""))


def _moved(w: Witness) -> Decimal:
    """The change in allowed dollars over a witness's changed lines (a line out of scope or in error: $0)."""
    def amount(view: dict) -> Decimal:
        return Decimal(view["amount"]) if view.get("amount") is not None else Decimal(0)
    return sum((amount(lc.new) - amount(lc.old) for lc in w.lines), Decimal(0))


def _dollars(witnesses: list[Witness]) -> str:
    if not witnesses:
        return "—"
    nets = [_moved(w) for w in witnesses]
    up, down = sum((m for m in nets if m > 0), Decimal(0)), sum((m for m in nets if m < 0), Decimal(0))
    shown = ([f"+${up:.2f}"] if up else []) + ([f"−${-down:.2f}"] if down else [])
    return ", ".join(shown) or "$0.00"


def _stands_for(pair: PairReport, w: Witness) -> int:
    b = pair.behavior
    return b.alike.get(w.key(), 1) if b.source == "generated" else 1


def _summary_rows(pairs: list[PairReport]) -> list[str]:
    rows = []
    for pair in pairs:
        first = True
        for c in pair.changes:
            if c.kind == "source" or (c.kind == "header" and c.name == "policy"):
                continue  # sources move no claim; the name and version head the pair's section
            moved = citing(c, pair.behavior.witnesses)
            claims = sum(_stands_for(pair, w) for w in moved)
            rows.append(f"| {f'`{pair.new.header.name}`' if first else ''} | {_cell(_edit(c))} "
                        f"| {claims if moved else '—'} | {len(moved) or '—'} | {_dollars(moved)} |")
            first = False
    return rows


def _change_item(c: Change) -> str:
    if c.toggled:
        heading, reason, title = toggled_parts(c)
        label, _, text = reason.partition(": ")
        return "\n".join([f"- {c.kind} `{c.name}` {heading}", f"  - {label}: {_code(text)}"]
                         + ([f"  - title: {_code(title)}"] if title else []))
    lines = [f"- {c.kind} `{c.name}` {c.action}" + (f" (inherited from `{c.inherited_from}`)"
                                                     if c.inherited_from else "")]
    lines += [f"  - {f}: {_code(was)} → {_code(now)}" for f, was, now in c.details]
    return "\n".join(lines)


def _witness_item(pair: PairReport, i: int, w: Witness) -> str:
    causes = "<br>".join(_code(c.text(), table=True) for c in w.causes)
    alike = _stands_for(pair, w)
    label = _cell(w.label) + (f" (stands for {alike} claims)" if alike > 1 else "")
    return "\n".join(f"| {f'W{i}' if k == 0 else ''} | {label if k == 0 else ''} | {lc.index} {lc.code} "
                     f"| {_cell(line_text(lc.old))} | {_cell(line_text(lc.new))} | {causes if k == 0 else ''} |"
                     for k, lc in enumerate(w.lines))


def _fold(summary: str) -> str:
    # GitHub renders Markdown inside <details> only after a blank line.
    return f"<details><summary>{summary}</summary>\n\n"


_FOLD_END = "\n</details>\n\n"


def _parents_first(report: DiffReport) -> list[PairReport]:
    """The pairs, those that inherit fewest changes first: a parent's pair (cts-2024) before the pairs
    that extend it (2025, the overlays), so that each change is shown in full where it was made."""
    return sorted(report.pairs, key=lambda pair: sum(1 for c in pair.changes if c.inherited_from))


def _home_pairs(pairs: list[PairReport]) -> dict[tuple, str]:
    """Where each change is shown in full: the first pair, parents first, that has it. A later pair
    with the same change (the same edit, inherited or made alike) points there, so an edit of
    cts-2024.cts is not printed again under 2025, 2026 and each overlay."""
    home: dict[tuple, str] = {}
    for pair in pairs:
        for c in pair.changes:
            home.setdefault((c.key, c.details), pair.new.header.name)
    return home


def _pair_parts(pair: PairReport, home: dict[tuple, str]) -> tuple[str, list[_Part], _Part | None]:
    """A pair's heading, its folds (changes, witnesses, no effect) and the fold of witness claims."""
    b = pair.behavior
    shown = [c for c in pair.changes if c.kind != "source"]
    name = pair.new.header.name
    claims = "generated claims" if b.source == "generated" else f"claims in `{b.source}`"
    heading = (f"### `{pair.old.header.name}` {pair.old.header.version} → `{pair.new.header.name}` "
               f"{pair.new.header.version}\n\n"
               f"{len(shown)} structural change(s); {b.differing} of {b.compared} {claims} decide differently, "
               f"{len(b.witnesses)} witness(es)" + (" (stopped at a limit: more may exist)" if b.truncated else "")
               + (f"; {b.skipped} claim(s) of other payers skipped" if b.skipped else "") + ".\n\n")
    if sources_summary(pair.changes):
        heading += f"Also {sources_summary(pair.changes)}.\n\n"
    parts = []
    if shown:
        parts.append(_Part(_fold(f"<b>Structural changes</b> ({len(shown)})"),
                           [_change_item(c) if home.get((c.key, c.details), name) == name
                            else f"- {_edit(c)}: as under `{home[(c.key, c.details)]}` above" for c in shown],
                           _FOLD_END, "changes"))
    claims_part = None
    if b.witnesses:
        parts.append(_Part(_fold(f"<b>Witnesses</b> ({len(b.witnesses)}): the claims that decide differently, "
                                 "and why") + "| # | claim | line | old | new | cause |\n|---|---|---|---|---|---|\n",
                           [_witness_item(pair, i, w) for i, w in enumerate(b.witnesses, 1)], _FOLD_END,
                           "witnesses"))
        claims_part = _Part(_fold("Witness claims (JSON, on the old policy's date; the new policy decides the same "
                                  "claim on its date)") + "```json\n",
                            [json.dumps({"witness": f"W{i}", "new_date": w.new_date, "claim": w.claim},
                                        sort_keys=True) for i, w in enumerate(b.witnesses, 1)],
                            "```\n" + _FOLD_END, "witness claims")
    if pair.no_effect:
        where = "generated" if b.source == "generated" else "replayed"
        parts.append(_Part(_fold(f"<b>No effect</b> on any {where} claim ({len(pair.no_effect)}): status, units, "
                                 "amount and rules fired are the same"),
                           [f"- {c.kind} `{c.name}` {c.shown_action}"
                            + (f" ({', '.join(d[0] for d in c.details)})" if c.action == "changed" else "")
                            for c in pair.no_effect], _FOLD_END, "changes"))
    return heading, parts, claims_part


# ---------------------------------------------------------------- the page


def render_markdown(report: DiffReport, max_chars: int = MAX_CHARS) -> str:
    """The diff as a pull-request comment of at most `max_chars` characters (see the module docstring).

    Args:
        report: a diff that ran (`ctsdsl.review.diff.run_diff`).
        max_chars: the budget; the default fits a GitHub comment.

    Returns:
        Markdown: summary table first, details in folds, every cut saying what it left out.
    """
    json_command = f"`ctsdsl diff {report.old_label} {report.new_label} --format json`"
    note_fmt = "\n*… {n} more {what} not shown here: " + json_command + " lists them all.*\n"
    shown = sum(1 for pair in report.pairs for c in pair.changes if c.kind != "source")
    top = (f"## Policy diff: `{report.old_label}` → `{report.new_label}`\n\n**"
           + ("Claims decide differently" if report.behavioral_change else "No claim decides differently")
           + f"** (exit {report.exit_code}): {len(report.pairs)} policy pair(s), {shown} structural change(s), "
           + f"{sum(len(p.behavior.witnesses) for p in report.pairs)} witness(es).\n\n")
    top += "".join(f"- policy **removed**: `{p.header.name}` (`{name}`)\n" for name, p in report.removed)
    top += "".join(f"- policy **added**: `{p.header.name}` (`{name}`)\n" for name, p in report.added)
    top += "\n" if report.removed or report.added else ""

    ordered = _parents_first(report)
    rows = _summary_rows(ordered)
    summary = _Part("### Summary\n\nNo structural change.\n", [], "\n", "edits") if not rows else _Part(
                    "### Summary\n\nEach edit, the generated or replayed claims its witnesses stand for, and the "
                    "allowed dollars those witness claims move (increases and decreases apart).\n\n"
                    "| policy | edit | claims | witnesses | dollars moved on the witnesses |\n|---|---|---|---|---|\n",
                    rows, "\n", "edits")
    home = _home_pairs(ordered)
    pairs = [_pair_parts(pair, home) for pair in ordered]
    everything = [summary, *(p for _, parts, claims in pairs for p in [*parts, *([claims] if claims else [])])]
    for part in everything:
        part.note_fmt = note_fmt

    # Frames first: a pair's heading and its folds' frames are the least it can show. Pairs past half the
    # budget are left out whole (a folder of hundreds of policies), and the page says how many.
    frames = len(top) + summary.fixed() + 200
    kept = 0
    for heading, parts, claims in pairs:
        cost = len(heading) + sum(p.fixed() for p in [*parts, *([claims] if claims else [])])
        if frames + cost > max_chars // 2:
            break
        frames, kept = frames + cost, kept + 1
    left_out = len(pairs) - kept
    tail = (f"*… {left_out} more policy pair(s) not shown here: {json_command} lists them all.*\n"
            if left_out else "")
    budget = max_chars - frames - len(tail)
    budget -= _share([summary], min(budget // 2, summary.need()))
    folds = [p for _, parts, _ in pairs[:kept] for p in parts]
    budget -= _share(folds, budget)
    _share([c for _, _, c in pairs[:kept] if c is not None], budget)

    out = top + summary.render()
    for heading, parts, claims in pairs[:kept]:
        out += heading + "".join(p.render() for p in parts) + (claims.render() if claims else "")
    # Escaped, as the text diff is: a bidi override in a policy's text would reorder what a reviewer reads
    # (the few characters an escape adds fit in the margin between MAX_CHARS and GitHub's 65,536).
    return printable((out + tail).rstrip() + "\n")


__all__ = ["MAX_CHARS", "render_markdown"]
