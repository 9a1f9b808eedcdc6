"""schemas/diff.schema.json, the contract of `ctsdsl diff --format json`: every kind of real diff
validates, a damaged one is refused, and the schema itself is sound and documented."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from ctsdsl import _resources, cli
from ctsdsl.review.diff import run_diff, to_dict

from conftest import ROOT

FIX = ROOT / "tests" / "fixtures" / "diff"
BASE = FIX / "base" / "toy.cts"
MEDICARE = ROOT / "policies" / "medicare"

# An overlay of the toy policy with no end date that switches a rule off: the two shapes no bundled
# policy has (effective_to null; a removed rule whose `disabled` detail carries the reason in `new`).
OPEN_OVERLAY = '''policy "toy-open" {
  title "The toy policy without an end date"
  payer "toy"
  version "2"
  effective 2030-01-01
  extends "toy.cts"
}

source s2 {
  title "Made up for tests too"
  url "https://example.org/toy2"
}

disable too_short because "Short sessions are paid." cites s2
'''


def schema(name: str) -> dict:
    return json.loads(_resources.schema_path(name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    # A witness's claim is checked by claim.schema.json, which the diff schema names by its $id.
    bodies = [schema("diff.schema.json"), schema("claim.schema.json")]
    registry = Registry().with_resources((body["$id"], Resource.from_contents(body)) for body in bodies)
    return Draft202012Validator(bodies[0], registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(validator: Draft202012Validator, body: dict) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(body)]


def diff_json(old, new, claims=None) -> dict:
    """What `ctsdsl diff --format json` prints, parsed back (the command prints exactly this dict)."""
    return json.loads(json.dumps(to_dict(run_diff(str(old), str(new), claims and str(claims)))))


def claims_file(folder: Path) -> Path:
    """The example claims, one of another payer (skipped), and one whose lines fall before 2025's
    conversion factor once moved to 2025, so the new side cannot decide it (status error)."""
    claims = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "examples" / "claims").glob("*.json"))]
    typical = json.loads((ROOT / "examples" / "claims" / "typical.json").read_text(encoding="utf-8"))
    claims.append(dict(typical, id="another-payer", payer="acme"))
    spans = dict(typical, id="lines-a-year-early", date_of_service="2025-01-02")
    spans["lines"] = [dict(line, date_of_service="2024-12-30") for line in typical["lines"]]
    claims.append(spans)
    path = folder / "claims.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in claims), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def medicare() -> dict:
    """2024 against 2025 with generated witnesses: governs, rules, fees, rows, reads, out-of-scope lines."""
    return diff_json(MEDICARE / "cts-2024.cts", MEDICARE / "cts-2025.cts")


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> dict:
    return diff_json(MEDICARE / "cts-2024.cts", MEDICARE / "cts-2025.cts", claims_file(tmp_path_factory.mktemp("c")))


def witness_lines(body: dict):
    for pair in body["pairs"]:
        for w in pair["behavior"]["witnesses"]:
            yield from w["lines"]


# ------------------------------------------------------------------ the schema itself


def test_the_diff_schema_is_a_valid_2020_12_schema_with_an_id_beside_the_others():
    body = schema("diff.schema.json")
    Draft202012Validator.check_schema(body)
    assert body["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert body["$id"].rsplit("/", 1) == [schema("claim.schema.json")["$id"].rsplit("/", 1)[0], "diff.schema.json"]


def _properties(node, path="$"):
    """Every property the schema declares, with where; if/then/else only narrow declared ones."""
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            yield f"{path}.{name}", sub
        for key, sub in node.items():
            if key not in ("if", "then", "else"):
                yield from _properties(sub, f"{path}/{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from _properties(sub, f"{path}[{i}]")


def test_every_property_says_what_it_means_to_a_reviewer():
    undocumented = [path for path, sub in _properties(schema("diff.schema.json")) if not sub.get("description")]
    assert undocumented == []


def test_every_object_the_diff_prints_is_closed_except_the_claim_whose_own_schema_closes_it():
    body = schema("diff.schema.json")
    objects = [body, *(d for d in body["$defs"].values() if d.get("type") == "object")]
    assert all(o["additionalProperties"] is False for o in objects)
    assert body["$defs"]["witness"]["properties"]["claim"]["$ref"] == "claim.schema.json"
    assert schema("claim.schema.json")["additionalProperties"] is False


# ------------------------------------------------------------------ real diffs validate


def test_medicare_2024_against_2025_with_generated_witnesses_validates(validator, medicare):
    assert problems(validator, medicare) == []
    statuses = {line[side]["status"] for line in witness_lines(medicare) for side in ("old", "new")}
    assert {"allowed", "denied", "out_of_scope"} <= statuses  # the shapes the check had to cover
    assert medicare["exit_code"] == 1 and medicare["pairs"][0]["no_effect"]


def test_replaying_claims_validates_including_a_claim_one_side_cannot_decide(validator, replayed):
    assert problems(validator, replayed) == []
    behavior = replayed["pairs"][0]["behavior"]
    assert behavior["source"].endswith("claims.jsonl") and behavior["claims_skipped"] == 1
    errors = [line["new"] for line in witness_lines(replayed) if line["new"]["status"] == "error"]
    assert errors and all(e["units"] is None and e["amount"] is None and e["error"] for e in errors)


@pytest.mark.parametrize(("old", "new", "code"), [
    pytest.param(BASE, BASE, 0, id="identical sides"),
    pytest.param(BASE, FIX / "reformatted" / "toy.cts", 0, id="layout only"),
    pytest.param(BASE, FIX / "message" / "toy.cts", 0, id="structural change that moves no claim"),
    pytest.param(BASE, FIX / "param" / "toy.cts", 1, id="changed parameter with witnesses"),
    pytest.param(BASE, FIX / "row" / "toy.cts", 1, id="changed data row"),
    pytest.param(BASE, FIX / "rule_added" / "toy.cts", 1, id="added rule"),
    pytest.param(FIX / "rule_added" / "toy.cts", BASE, 1, id="removed rule"),
    pytest.param(BASE, FIX / "spend_by_discipline" / "toy.cts", 1, id="claim amounts around thresholds"),
])
def test_toy_diffs_validate(validator, old, new, code):
    body = diff_json(old, new)
    assert problems(validator, body) == []
    assert body["exit_code"] == code


def test_identical_sides_report_no_change_at_all(validator):
    body = diff_json(BASE, BASE)
    [pair] = body["pairs"]
    assert (pair["structural"], pair["behavior"]["witnesses"], pair["no_effect"]) == ([], [], [])
    assert body["behavioral_change"] is False and pair["behavior"]["claims_compared"] > 0


def test_an_open_ended_overlay_that_disables_a_rule_validates(validator, tmp_path):
    shutil.copytree(FIX / "base", tmp_path, dirs_exist_ok=True)
    (tmp_path / "open.cts").write_text(OPEN_OVERLAY, encoding="utf-8")
    body = diff_json(tmp_path / "toy.cts", tmp_path / "open.cts")
    assert problems(validator, body) == []
    assert body["pairs"][0]["new_policy"]["effective_to"] is None
    [removed] = [c for c in body["pairs"][0]["structural"] if c["action"] == "removed"]
    assert removed["details"][0] == {"field": "disabled", "old": None, "new": "Short sessions are paid."}
    assert removed["toggled"] == "disabled"


def test_an_overlay_that_drops_its_disable_line_validates_with_the_rule_re_enabled(validator, tmp_path):
    shutil.copytree(FIX / "base", tmp_path, dirs_exist_ok=True)
    (tmp_path / "open.cts").write_text(OPEN_OVERLAY, encoding="utf-8")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "open.cts").write_text(OPEN_OVERLAY.split("disable ")[0], encoding="utf-8")
    shutil.copytree(FIX / "base", tmp_path / "new", dirs_exist_ok=True)
    body = diff_json(tmp_path / "open.cts", tmp_path / "new" / "open.cts")
    assert problems(validator, body) == []
    [added] = [c for c in body["pairs"][0]["structural"] if c["action"] == "added"]
    assert added["toggled"] == "re-enabled"
    assert added["details"][0] == {"field": "disabled", "old": "Short sessions are paid.", "new": None}
    # Only a toggled rule carries the field: it was added to the contract, so older readers never see it.
    assert all("toggled" not in c for c in body["pairs"][0]["structural"] if c is not added)


def test_folders_with_a_policy_on_one_side_only_validate(validator, tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(FIX / "base", old)
    shutil.copytree(FIX / "base", new)
    (new / "open.cts").write_text(OPEN_OVERLAY, encoding="utf-8")
    added, removed = diff_json(old, new), diff_json(new, old)
    assert problems(validator, added) == [] and problems(validator, removed) == []
    assert [p["name"] for p in added["policies_added"]] == [p["name"] for p in removed["policies_removed"]] == [
        "toy-open"]
    assert added["exit_code"] == removed["exit_code"] == 1


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_git_revision_against_the_working_tree_validates_through_the_command_line(validator, tmp_path, capsys,
                                                                                    monkeypatch):
    repo = tmp_path / "repo"
    shutil.copytree(FIX / "base", repo / "policy")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "base"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    shutil.copy(FIX / "param" / "toy.cts", repo / "policy" / "toy.cts")
    monkeypatch.chdir(repo)
    code = cli.main(["diff", "HEAD:policy/toy.cts", "policy/toy.cts", "--format", "json"])
    body = json.loads(capsys.readouterr().out)
    assert problems(validator, body) == []
    assert code == body["exit_code"] == 1 and body["pairs"][0]["old_policy"]["file"] == "HEAD:policy/toy.cts"


# ------------------------------------------------------------------ promises the schema's descriptions make


def test_every_no_effect_entry_names_a_structural_change_of_its_pair(medicare, replayed):
    for body in (medicare, replayed):
        for pair in body["pairs"]:
            keys = {f"{c['kind']} {c['name']}" for c in pair["structural"]}
            assert set(pair["no_effect"]) <= keys


def test_a_replayed_witness_stands_for_itself_alone(replayed):
    assert {w["alike"] for w in replayed["pairs"][0]["behavior"]["witnesses"]} == {1}


# ------------------------------------------------------------------ damaged output is refused


def _first_witness(body):
    return next(w for p in body["pairs"] for w in p["behavior"]["witnesses"] if w["causes"] and w["causes"][0]["reads"])


def _error_line(body):
    return next(line for line in witness_lines(body) if line["new"]["status"] == "error")


def _allowed_line(body):
    return next(line for line in witness_lines(body) if line["old"]["status"] == "allowed")


# Where in a diff each damage is done: the first of its kind, in the replayed 2024-to-2025 diff.
AT = {
    "top": lambda body: body,
    "pair": lambda body: body["pairs"][0],
    "behavior": lambda body: body["pairs"][0]["behavior"],
    "change": lambda body: body["pairs"][0]["structural"][0],
    "detail": lambda body: body["pairs"][0]["structural"][0]["details"][0],
    "policy": lambda body: body["pairs"][0]["old_policy"],
    "witness": _first_witness,
    "cause": lambda body: _first_witness(body)["causes"][0],
    "read": lambda body: _first_witness(body)["causes"][0]["reads"][0],
    "claim": lambda body: _first_witness(body)["claim"],
    "line": lambda body: _first_witness(body)["lines"][0],
    "decided": lambda body: _allowed_line(body)["old"],
    "undecided": lambda body: _error_line(body)["new"],
}


def _delete(where, key):
    def damage(body):
        del AT[where](body)[key]
    return damage


def _set(where, key, value):
    def damage(body):
        AT[where](body)[key] = value
    return damage


DAMAGE = [
    # a required key missing
    pytest.param(_delete("top", "exit_code"), id="no exit_code"),
    pytest.param(_delete("top", "policies_added"), id="no policies_added"),
    pytest.param(_delete("pair", "no_effect"), id="a pair without no_effect"),
    pytest.param(_delete("behavior", "truncated"), id="behavior without truncated"),
    pytest.param(_delete("change", "action"), id="a change without its action"),
    pytest.param(_delete("detail", "old"), id="a detail without its old text"),
    pytest.param(_delete("policy", "effective_to"), id="a policy without effective_to"),
    pytest.param(_delete("witness", "causes"), id="a witness without causes"),
    pytest.param(_delete("cause", "edit"), id="a cause without its edit"),
    pytest.param(_delete("line", "new"), id="a changed line without the new decision"),
    pytest.param(_delete("decided", "status"), id="a line decision without status"),
    pytest.param(_delete("undecided", "error"), id="a line in error without the error"),
    pytest.param(_delete("claim", "payer"), id="a witness claim without a payer"),
    # a value of the wrong type or form
    pytest.param(_set("top", "behavioral_change", "yes"), id="behavioral_change as text"),
    pytest.param(_set("top", "exit_code", 2), id="exit code 2 (bad input prints no JSON)"),
    pytest.param(_set("behavior", "claims_compared", "12"), id="a count as text"),
    pytest.param(_set("behavior", "claims_differing", -1), id="a negative count"),
    pytest.param(_set("change", "kind", "paragraph"), id="an unknown kind of change"),
    pytest.param(_set("change", "action", "moved"), id="an unknown action"),
    pytest.param(_set("change", "details", "when changed"), id="details as one string"),
    pytest.param(_set("detail", "new", ["a", "b"]), id="a detail's text as a list"),
    pytest.param(_set("policy", "effective_from", "1 January 2024"), id="a date not written YYYY-MM-DD"),
    pytest.param(_set("witness", "id", "1"), id="a witness id without W"),
    pytest.param(_set("witness", "alike", 0), id="a witness standing for no claim"),
    pytest.param(_set("witness", "lines", []), id="a witness with no changed line"),
    pytest.param(_set("cause", "item", "telehealth_not_covered"), id="a cause item without its kind"),
    pytest.param(_set("read", "old", 32.7442), id="a value read as a number"),
    pytest.param(_set("decided", "amount", 52.06), id="an amount as a number"),
    pytest.param(_set("decided", "amount", "52.1"), id="an amount with one decimal"),
    pytest.param(_set("decided", "units", None), id="a decided line without units"),
    pytest.param(_set("decided", "status", "paid"), id="an unknown line status"),
    pytest.param(_set("undecided", "units", 1), id="a line in error with units"),
    pytest.param(_set("claim", "place_of_service", "office"), id="a witness claim the claim schema refuses"),
    # a key the contract does not have
    pytest.param(_set("top", "summary", "moved"), id="an unknown top-level key"),
    pytest.param(_set("pair", "verdict", 1), id="an unknown key in a pair"),
    pytest.param(_set("change", "why", "x"), id="an unknown key in a change"),
    pytest.param(_set("policy", "plan", "medicare"), id="an unknown key in a policy"),
    pytest.param(_set("witness", "note", "x"), id="an unknown key in a witness"),
    pytest.param(_set("read", "line", 0), id="an unknown key in a read"),
    pytest.param(_set("decided", "error", "x"), id="an error beside a decided line"),
    pytest.param(_set("claim", "notes", "x"), id="an unknown key in a witness claim"),
    # fields that must agree
    pytest.param(_set("top", "exit_code", 0), id="claims moved yet exit code 0"),
]


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_diff_is_refused(validator, replayed, damage):
    body = copy.deepcopy(replayed)
    assert problems(validator, body) == []  # the damage alone is what the schema refuses
    damage(body)
    assert problems(validator, body) != []


def test_a_diff_that_moved_nothing_cannot_claim_exit_code_1(validator):
    body = diff_json(BASE, BASE)
    body["exit_code"] = 1
    assert problems(validator, body) != []


# ------------------------------------------------------------------ the guide's example


def test_the_consuming_example_in_the_review_guide_runs_on_a_real_diff(tmp_path, monkeypatch, capsys):
    guide = (ROOT / "docs" / "review.md").read_text(encoding="utf-8")
    section = guide.split("## Consuming the JSON", 1)[1].split("\n## ", 1)[0]
    [example] = re.findall(r"```python\n(.*?)```", section, re.S)
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    (tmp_path / "diff.json").write_text(json.dumps(diff_json(BASE, FIX / "param" / "toy.cts")), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "docs/review.md", "exec"), {})  # noqa: S102 - our own documentation
    assert "W1" in capsys.readouterr().out
