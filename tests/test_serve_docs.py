"""docs/playground.md's answers are real: each request on the page is sent, and the answer compared."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")

from starlette.testclient import TestClient  # noqa: E402

from ctsdsl.serve import create_app  # noqa: E402

PAGE = Path(__file__).resolve().parent.parent / "docs" / "playground.md"
_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.M | re.S)
ELIDED = "…"


def _exchanges() -> list[tuple[str, str, dict, int, object, int]]:
    """(method, path, request, status, expected answer, line) for each request block and the answer after it."""
    text = PAGE.read_text(encoding="utf-8")
    blocks = [(m.group(1).split(), m.group(2), text.count("\n", 0, m.start()) + 1) for m in _FENCE.finditer(text)]
    out = []
    for (words, body, line), (after, answer, _) in zip(blocks, blocks[1:]):
        if words[:2] == ["json", "request"]:
            assert after[:2] == ["json", "response"], f"playground.md:{line}: a request without its response"
            out.append((words[2], words[3], json.loads(body), int(after[2]), json.loads(answer), line))
    return out


def shown_in(expected: object, got: object, where: str = "$") -> list[str]:
    """Where the page's answer differs from the real one; '…' and keys or items left out match anything."""
    if expected == ELIDED:
        return []
    if isinstance(expected, dict) and isinstance(got, dict):
        return [p for key, value in expected.items()
                for p in ([f"{where}.{key} missing"] if key not in got else shown_in(value, got[key], f"{where}.{key}"))]
    if isinstance(expected, list) and isinstance(got, list):
        partial = bool(expected) and expected[-1] == ELIDED
        items = expected[:-1] if partial else expected
        if len(got) < len(items) or (not partial and len(got) != len(items)):
            return [f"{where}: {len(got)} items, the page shows {len(items)}{' or more' if partial else ''}"]
        return [p for k, value in enumerate(items) for p in shown_in(value, got[k], f"{where}[{k}]")]
    return [] if expected == got else [f"{where}: the page shows {expected!r}, the answer is {got!r}"]


def test_the_page_shows_requests():
    assert len(_exchanges()) >= 4


@pytest.mark.parametrize(("method", "path", "request_body", "status", "expected", "line"), _exchanges())
def test_each_answer_on_the_page_is_the_real_one(method, path, request_body, status, expected, line):
    with TestClient(create_app(), base_url="http://127.0.0.1:8000") as client:
        response = client.request(method, path, content=json.dumps(request_body),
                                  headers={"content-type": "application/json"})
    assert response.status_code == status, f"playground.md:{line}: {response.text}"
    assert shown_in(expected, response.json()) == [], f"playground.md:{line}"


def test_an_answer_that_drifted_from_the_page_is_caught():
    assert shown_in({"outcome": "pay", "lines": [{"status": "allowed"}]},
                    {"outcome": "deny", "lines": [{"status": "allowed"}, {"status": "denied"}]}) == [
        "$.outcome: the page shows 'pay', the answer is 'deny'", "$.lines: 2 items, the page shows 1"]
    assert shown_in({"digest": ELIDED, "lines": [ELIDED]}, {"digest": "sha256:00", "lines": [1, 2]}) == []
