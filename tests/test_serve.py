"""The playground's JSON endpoints, over HTTP through Starlette's test client: the CLI's shapes, located errors."""

from __future__ import annotations

import io
import json
import re
import sys
import tempfile
from contextlib import redirect_stdout
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")

from starlette.testclient import TestClient  # noqa: E402

from ctsdsl.cli import main  # noqa: E402
from ctsdsl.serve import create_app  # noqa: E402
from ctsdsl.serve.app import MAX_REQUEST_BYTES, static_dir  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "claims" / "typical.json"
POLICY_2024 = ROOT / "policies" / "medicare" / "cts-2024.cts"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PAYER_MAP = 'payer_ids:\n  "00000": medicare\n'


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(), base_url="http://127.0.0.1:8000", raise_server_exceptions=False) as c:
        yield c


def post(client, path, body, **kw):
    return client.post(path, content=json.dumps(body), headers={"content-type": "application/json"}, **kw)


def cli_json(*argv: str) -> object:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(list(argv)) == 0
    return json.loads(out.getvalue())


def assert_located_error(response, status: int, code: str) -> dict:
    """A JSON error record, never a traceback, with the diagnostic's code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in response.text
    body = response.json()
    assert set(body) == {"line", "location", "kind", "diagnostics", "record"}  # as ctsdsl batch --errors writes
    assert code in [d["code"] for d in body["diagnostics"]], body
    return body


# ------------------------------------------------------------ the CLI's shapes


def test_eval_answers_what_ctsdsl_eval_json_prints(client):
    response = post(client, "/api/eval", {"claim": {"text": EXAMPLE.read_text()}})
    assert response.status_code == 200
    assert response.json() == cli_json("eval", str(EXAMPLE), "--json")


def test_eval_of_a_yaml_list_of_claims_answers_a_list_as_the_cli_does(client, tmp_path):
    claims = [json.loads(EXAMPLE.read_text()), json.loads((ROOT / "examples/claims/group.json").read_text())]
    import yaml
    text = yaml.safe_dump(claims)
    (tmp_path / "two.yaml").write_text(text)
    response = post(client, "/api/eval", {"claim": {"text": text}})
    assert response.status_code == 200
    assert response.json() == cli_json("eval", str(tmp_path / "two.yaml"), "--json")


def test_explain_answers_exactly_what_explain_format_json_prints(client):
    response = post(client, "/api/explain", {"claim": {"text": EXAMPLE.read_text()}})
    assert response.status_code == 200
    [claim] = response.json()["claims"]
    assert claim["location"] == "claim"
    assert claim["explanation"] == cli_json("explain", str(EXAMPLE), "--format", "json")  # one trace shape


def test_explain_gives_each_rule_with_what_it_read_each_read_with_its_line_and_its_citation(client):
    response = post(client, "/api/explain", {"claim": {"text": EXAMPLE.read_text()}})
    explanation = response.json()["claims"][0]["explanation"]
    trace = explanation["evaluations"]
    fee = next(t for t in trace if t["rule"] == "physician_fee_schedule" and t["line"] == 0)
    assert fee["fired"] and fee["kind"] == "fee"
    assert {"label": "conversion_factor", "value": "33.2875", "line": None} in fee["reads"]
    kx = next(t for t in trace if t["rule"] == "kx_threshold_pt_slp" and t["line"] == 0)
    assert [(r["value"], r["line"]) for r in kx["reads"] if r["label"] == "o.units"] == [(1, 0), (2, 1)]
    mppr = next(t for t in trace if t["rule"] == "no_mppr")
    assert mppr["finding"] == "F1" and mppr["citation"].startswith("CMS PPRRVU 2024")
    assert all(t["citation"] for t in trace if t["kind"] == "rule"), "every rule cites its source"
    assert explanation["layers"][0]["file"] == "medicare/cts-2024.cts"


def test_explain_of_an_edited_overlay_names_its_chain_though_the_edit_is_not_on_disk(client):
    text = (ROOT / "policies" / "examples" / "example-in-person-only.cts").read_text(encoding="utf-8")
    edited = text.replace('version "2025.1"', 'version "2025.1-edited"')
    claim = dict(json.loads(EXAMPLE.read_text()), payer="example-in-person-only", date_of_service="2025-05-01")
    response = post(client, "/api/explain", {"claim": {"text": json.dumps(claim)},
                                             "policy": {"text": edited, "file": "examples/example-in-person-only.cts"}})
    assert response.status_code == 200, response.text
    layers = response.json()["claims"][0]["explanation"]["layers"]
    assert [(layer["policy"], layer["version"]) for layer in layers][:2] == [
        ("example-in-person-only-2025", "2025.1-edited"), ("medicare-cts-2025", "2025.3")]


def test_explain_lists_every_rule_evaluated_not_only_those_that_fired(client):
    import ctsdsl
    evaluator = ctsdsl.compile("medicare-cts-2024")
    _, evaluations = evaluator.trace(json.loads(EXAMPLE.read_text()))
    response = post(client, "/api/explain", {"claim": {"text": EXAMPLE.read_text()},
                                             "policy": {"name": "medicare-cts-2024"}})
    trace = response.json()["claims"][0]["explanation"]["evaluations"]
    assert [(t["rule"], t["line"], t["fired"]) for t in trace] == [(e.rule, e.line, e.fired) for e in evaluations]
    assert any(not t["fired"] for t in trace)


# ------------------------------------------------------------ policies: bundled, edited, checked


def test_policies_lists_the_bundled_policies_and_serves_their_text(client):
    listed = client.get("/api/policies").json()
    assert {"medicare-cts-2024", "medicare-cts-2025", "medicare-cts-2026"} <= {p["name"] for p in listed}
    got = client.get("/api/policies/medicare-cts-2024").json()
    assert got["file"] == "medicare/cts-2024.cts"
    assert got["text"] == POLICY_2024.read_text()


def test_an_edited_policy_decides_the_claim(client):
    text = POLICY_2024.read_text().replace("= $33.2875 cites", "= $40.0000 cites")
    assert text != POLICY_2024.read_text()
    response = post(client, "/api/eval", {"claim": {"text": EXAMPLE.read_text()},
                                          "policy": {"text": text, "file": "medicare/cts-2024.cts"}})
    assert response.status_code == 200
    lines = response.json()["lines"]
    assert lines[0]["allowed_amount"] == "63.60"  # 1.59 RVUs at $40, where the bundled factor gives $52.93


def test_check_locates_each_problem_by_line_and_column(client):
    text = POLICY_2024.read_text().replace("applies to line where fee_known", "applies to line where fee_knwn")
    response = post(client, "/api/check", {"policy": {"text": text, "file": "medicare/cts-2024.cts"}})
    assert response.status_code == 200
    body = response.json()
    assert not body["ok"] and body["errors"] >= 1
    problem = next(d for d in body["diagnostics"] if "fee_knwn" in d["message"])
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "fee_knwn" in l)
    assert (problem["source"], problem["line"], problem["severity"]) == ("medicare/cts-2024.cts", line, "error")
    assert text.splitlines()[line - 1][problem["column"] - 1:].startswith("fee_knwn")


def test_check_of_the_bundled_text_is_clean(client):
    body = post(client, "/api/check", {"policy": {"text": POLICY_2024.read_text(),
                                                  "file": "medicare/cts-2024.cts"}}).json()
    assert body["ok"] and body["errors"] == 0 and body["policy"]["name"] == "medicare-cts-2024"


def test_a_policy_with_errors_is_not_used_to_decide(client):
    response = post(client, "/api/eval", {"claim": {"text": EXAMPLE.read_text()},
                                          "policy": {"text": 'policy "p" {'}})
    body = assert_located_error(response, 422, "syntax")
    assert body["diagnostics"][0]["line"] == 1 and body["diagnostics"][0]["source"] == "playground.cts"


def test_a_policy_file_outside_the_bundled_tree_is_refused(client):
    response = post(client, "/api/check", {"policy": {"text": "", "file": "../../../etc/passwd.cts"}})
    body = assert_located_error(response, 400, "bad-request")
    assert body["diagnostics"][0]["path"] == "$.policy.file"


# ------------------------------------------------------------ X12 837P and FHIR


def test_a_pasted_837p_is_read_with_its_payer_map_as_ctsdsl_eval_reads_the_file(client, tmp_path):
    pytest.importorskip("pyx12")
    interchange = (FIXTURES / "x12" / "one-line.837").read_text()
    (tmp_path / "payers.yaml").write_text(PAYER_MAP)
    response = post(client, "/api/eval", {"claim": {"text": interchange, "payer_map": PAYER_MAP}})
    assert response.status_code == 200, response.text
    assert response.json() == cli_json("eval", str(FIXTURES / "x12" / "one-line.837"), "--payer-map",
                                       str(tmp_path / "payers.yaml"), "--json")


def test_a_pasted_fhir_claim_is_decided(client):
    pytest.importorskip("fhir.resources")
    response = post(client, "/api/eval", {"claim": {"text": (FIXTURES / "fhir" / "claim.json").read_text(),
                                                    "payer_map": PAYER_MAP}})
    assert response.status_code == 200, response.text
    assert response.json()["claim_id"] == "TEST-FHIR-001"


def test_an_837p_without_a_payer_is_refused_with_what_to_give(client):
    response = post(client, "/api/eval", {"claim": {"text": (FIXTURES / "x12" / "one-line.837").read_text()}})
    body = assert_located_error(response, 422, "usage")
    assert "payer map" in body["diagnostics"][0]["hint"]


def test_a_bad_837p_element_is_located_in_the_pasted_text_and_no_file_is_left_behind(client):
    pytest.importorskip("pyx12")
    before = set(_private_folders())
    response = post(client, "/api/eval", {"claim": {"text": (FIXTURES / "x12" / "bad-units.837").read_text(),
                                                    "payer": "medicare"}})
    body = assert_located_error(response, 422, body_code(response))
    assert all(d["source"] == "claim.837" and d["line"] for d in body["diagnostics"]), body
    assert "ctsdsl-serve-" not in response.text  # the private folder's name never reaches the page
    assert set(_private_folders()) == before


def body_code(response) -> str:
    return response.json()["diagnostics"][0]["code"]


def _private_folders():
    for folder in (Path("/dev/shm"), Path(tempfile.gettempdir())):
        if folder.is_dir():
            yield from folder.glob("ctsdsl-serve-*")


# ------------------------------------------------------------ bad input: located JSON errors, 4xx


def test_a_claim_that_is_not_json_is_located_by_line_and_column(client):
    response = post(client, "/api/eval", {"claim": {"text": '{\n  "id": "x",\n  oops\n}', "format": "json"}})
    body = assert_located_error(response, 422, "claim-syntax")
    assert (body["diagnostics"][0]["line"], body["diagnostics"][0]["column"]) == (3, 3)
    assert body["location"] == "claim"


def test_a_claim_that_breaks_the_schema_names_the_path(client):
    claim = json.loads(EXAMPLE.read_text())
    claim["lines"][1]["units"] = "two"
    body = assert_located_error(post(client, "/api/eval", {"claim": {"text": json.dumps(claim)}}), 422,
                                "claim-invalid")
    assert body["diagnostics"][0]["path"] == "$.lines[1].units"


@pytest.mark.parametrize(("body", "path"), [
    ({}, "$.claim"),
    ({"claim": "text"}, "$.claim"),
    ({"claim": {"text": 5}}, "$.claim.text"),
    ({"claim": {"text": "{}", "format": "csv"}}, "$.claim.format"),
    ({"claim": {"text": "{}"}, "policy": "medicare"}, "$.policy"),
    ({"claim": {"text": "{}"}, "policy": {"name": 2024}}, "$.policy.name"),
])
def test_a_request_of_the_wrong_shape_names_the_field(client, body, path):
    error = assert_located_error(post(client, "/api/eval", body), 400, "bad-request")
    assert error["diagnostics"][0]["path"] == path


def test_a_body_that_is_not_json_is_located(client):
    response = client.post("/api/explain", content=b'{"claim": ', headers={"content-type": "application/json"})
    body = assert_located_error(response, 400, "bad-request")
    assert body["diagnostics"][0]["line"] == 1 and body["diagnostics"][0]["column"] == 11


def test_an_unknown_bundled_policy_gets_a_suggestion(client):
    response = post(client, "/api/eval", {"claim": {"text": EXAMPLE.read_text()}, "policy": {"name": "medicare-cts-2042"}})
    body = assert_located_error(response, 422, "unknown-policy")
    assert "did you mean" in body["diagnostics"][0]["hint"]


def test_a_claim_no_bundled_policy_covers_is_a_located_error(client):
    claim = json.loads(EXAMPLE.read_text()) | {"payer": "nobody"}
    response = post(client, "/api/eval", {"claim": {"text": json.dumps(claim)}})
    assert response.status_code == 422 and "Traceback" not in response.text


def test_a_body_over_the_limit_is_refused_before_it_is_read(client):
    response = client.post("/api/eval", content=b" " * (MAX_REQUEST_BYTES + 1), headers={"content-type": "application/json"})
    assert_located_error(response, 413, "request-too-large")


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/nowhere", 404), ("GET", "/api/eval", 405),
                                                         ("GET", "/api/policies/no-such-policy", 404)])
def test_unknown_routes_and_methods_answer_json(client, method, path, status):
    response = client.request(method, path)
    assert response.status_code == status
    assert response.json()["diagnostics"]


# ------------------------------------------------------------ only this machine, only this page


def test_a_request_under_another_host_name_is_refused():
    # A DNS name rebound to 127.0.0.1 would let another site's page read the answers.
    with TestClient(create_app(), base_url="http://evil.example:8000") as other:
        assert_located_error(other.get("/api/policies"), 421, "refused")


def test_a_post_from_another_sites_page_is_refused(client):
    response = client.post("/api/eval", content="{}", headers={"content-type": "application/json",
                                                               "origin": "http://evil.example"})
    assert_located_error(response, 403, "refused")


def test_a_form_post_is_refused(client):
    # A plain HTML form cannot send application/json: refusing other types keeps forms out.
    response = client.post("/api/eval", content="claim=x", headers={"content-type": "application/x-www-form-urlencoded"})
    assert_located_error(response, 415, "refused")


def test_the_page_loads_nothing_from_elsewhere(client):
    page = client.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "http" not in csp
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    for asset in static_dir().iterdir():
        text = asset.read_text(encoding="utf-8")
        urls = re.findall(r"(?:src|href)=\"([^\"]+)\"", text) + re.findall(r"""(?:url\(|@import|fetch\()\s*['"`]?([^'"`)]+)""", text)
        assert all(u.startswith(("/static/", "/api/", "data:", "path")) for u in urls), (asset.name, urls)
        assert not re.search(r"https?://(?!127\.0\.0\.1)", text), asset.name
    for src in re.findall(r"(?:src|href)=\"([^\"]+)\"", page.text):
        if src.startswith("/static/"):
            assert client.get(src).status_code == 200


def test_the_examples_endpoint_serves_the_bundled_claims(client):
    examples = {e["name"]: e["text"] for e in client.get("/api/examples").json()}
    assert examples["typical.json"] == EXAMPLE.read_text()


# ------------------------------------------------------------ the command


def test_serve_refuses_a_port_in_use_with_exit_2(capsys):
    from ctsdsl.serve.command import bind
    taken = bind(0)
    try:
        assert main(["serve", "--port", str(taken.getsockname()[1])]) == 2
    finally:
        taken.close()
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


def test_serve_without_the_extra_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn now fails as if not installed
    assert main(["serve", "--port", "0"]) == 2
    assert "pip install 'ctsdsl[serve]'" in capsys.readouterr().err


def test_serve_refuses_a_port_that_is_not_a_number(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--port", "http"])
    assert stopped.value.code == 2
    assert "must be a port number" in capsys.readouterr().err
