"""The HTTP API in process (FastAPI's test client) on the sample model: every endpoint's
answer against the library's own, every error shape, the page and the offline docs."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET

import pytest

from kgrec.explain.paths import Explanation, PathStep, path_exists
from kgrec.web.schemas import MAX_K

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def assert_problem(response, status: int) -> dict:
    """``response`` is a problem document with ``status`` and no traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert PROBLEM_KEYS <= set(body), body
    assert body["status"] == status and body["detail"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


def library_message(fn, *args, **kwargs) -> str:
    """The message of the exception the library raises for this call."""
    with pytest.raises((KeyError, ValueError, TypeError)) as info:
        fn(*args, **kwargs)
    return str(info.value.args[0])


def as_explanations(items: list[dict], user: str, item: str) -> list[Explanation]:
    return [Explanation(user, item, e["kind"], tuple(PathStep(s["head"], s["relation"],
                                                              s["tail"], s["forward"])
                                                     for s in e["steps"]),
                        e["anchor"], e["shared"], e["salience"], e["text"])
            for e in items]


# -- service -------------------------------------------------------------------------------
def test_health(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["model"] == "hybrid" and body["pid"] > 0


def test_model_info(client, web_rec):
    body = client.get("/v1/model").json()
    assert body["dataset"] == "sample" and body["model"] == web_rec.config.model.name
    assert body["format"] == 2
    assert body["config"] == json.loads(json.dumps(web_rec.config.to_dict()))
    assert body["sizes"]["users"] == web_rec.kg_.num_users
    assert body["sizes"]["movies"] == web_rec.kg_.num_items
    assert body["sizes"]["edges"] == sum(v.shape[1] for v in web_rec.kg_.edges.values())
    assert body["example_users"] and set(body["example_users"]) <= set(web_rec.kg_.user_ids)
    assert "Crime" in body["genres"]


# -- recommend -----------------------------------------------------------------------------
@pytest.mark.parametrize("request_body", [
    {"user": "u1"},
    {"liked": ["Heat", "Casino"]},
    {"query": "a 90s crime film like Pulp Fiction"},
    {"user": "u2", "query": "movies directed by Quentin Tarantino", "k": 5},
])
def test_recommend_matches_the_library(client, web_rec, request_body):
    body = client.post("/v1/recommend", json=request_body).json()
    kwargs = {k: v for k, v in request_body.items() if k != "k"}
    expected = web_rec.recommend(k=request_body.get("k", 10), **kwargs)
    got = body["recommendations"]
    assert [r["item_id"] for r in got] == [r.item_id for r in expected]
    assert [r["score"] for r in got] == pytest.approx([r.score for r in expected], abs=1e-5)
    assert [r["explanation"] for r in got] == [r.explanation for r in expected]
    assert body["request"]["k"] == request_body.get("k", 10)
    user = request_body.get("user")
    for r, lib in zip(got, expected):
        assert r["title"] == lib.title and r["year"] == lib.year
        assert r["explanations"], f"{r['title']} has no explanation"
        assert r["graph_svg"] is None
        for e in as_explanations(r["explanations"], f"user:{user}" if user else "",
                                 f"movie:{r['item_id']}"):
            if e.kind != "query":  # query paths are one movie-entity edge
                assert path_exists(web_rec.kg_, e)
        for e in r["explanations"]:
            assert set(e["labels"]) == {n for s in e["steps"] for n in (s["head"], s["tail"])}


def test_recommend_genres_and_labels(client, web_rec):
    r = client.post("/v1/recommend", json={"user": "u1", "k": 3}).json()["recommendations"][0]
    triples = web_rec.dataset_.triples
    genres = triples[(triples["head"] == f"movie:{r['item_id']}")
                     & (triples["relation"] == "has_genre")]["tail"]
    assert r["genres"] == sorted(web_rec.dataset_.labels[g] for g in genres)
    for e in r["explanations"]:
        for entity, label in e["labels"].items():
            if not entity.startswith("user:"):
                assert label == web_rec.dataset_.labels[entity]


def test_recommend_filters_and_options(client):
    body = client.post("/v1/recommend", json={
        "user": "u1", "k": 5, "filters": {"genres": ["Western"], "min_year": 1960},
        "explain": False}).json()
    recs = body["recommendations"]
    assert recs and all("Western" in r["genres"] and r["year"] >= 1960 for r in recs)
    assert all(r["explanations"] == [] and r["explanation"] == "" for r in recs)
    assert body["request"]["filters"] == {"genres": ["Western"], "min_year": 1960,
                                          "max_year": None, "exclude": None}


def test_recommend_graph_svg(client):
    recs = client.post("/v1/recommend", json={"user": "u1", "k": 3, "graph": True}
                       ).json()["recommendations"]
    for r in recs:
        svg = ET.fromstring(r["graph_svg"])
        assert svg.tag.endswith("svg")
        titles = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")}
        for e in r["explanations"]:
            for entity, label in e["labels"].items():
                assert f"{label} ({entity})" in titles


# -- explain and movies --------------------------------------------------------------------
def test_explain_matches_the_library(client, web_rec):
    body = client.post("/v1/explain", json={"user": "u1", "movie": "Pulp Fiction"}).json()
    expected = web_rec.explain("u1", "Pulp Fiction")
    assert [e["text"] for e in body["explanations"]] == [e.text for e in expected]
    assert body["movie"]["title"] == "Pulp Fiction" and body["movie"]["year"] == 1994
    assert all(path_exists(web_rec.kg_, e) for e in
               as_explanations(body["explanations"], "user:u1", f"movie:{body['movie']['item_id']}"))
    assert ET.fromstring(body["graph_svg"]).tag.endswith("svg")
    by_id = client.post("/v1/explain", json={"user": "u1", "movie": body["movie"]["item_id"],
                                             "k": 1, "graph": False}).json()
    assert len(by_id["explanations"]) == 1 and by_id["graph_svg"] is None
    assert by_id["explanations"][0]["text"] == expected[0].text


def test_movies_search(client, web_rec):
    body = client.get("/v1/movies", params={"search": "kill", "limit": 5}).json()
    titles = [m["title"] for m in body["movies"]]
    assert titles and len(titles) <= 5 and all("kill" in t.lower() for t in titles)
    starts = [t.lower().startswith("kill") for t in titles]
    assert starts == sorted(starts, reverse=True)  # titles starting with it come first
    top = client.get("/v1/movies", params={"limit": 3}).json()["movies"]
    counts = web_rec.dataset_.ratings["item_id"].value_counts()
    assert [counts[m["item_id"]] for m in top] == sorted(counts.values, reverse=True)[:3]
    assert client.get("/v1/movies", params={"search": "zzzzqqq"}).json()["movies"] == []


# -- errors --------------------------------------------------------------------------------
def test_unknown_user_and_title_give_the_library_message(client, web_rec):
    body = assert_problem(client.post("/v1/recommend", json={"user": "nobody"}), 404)
    assert body["detail"] == library_message(web_rec.recommend, "nobody")
    assert body["title"] == "Not found" and body["instance"] == "/v1/recommend"
    body = assert_problem(client.post("/v1/recommend", json={"liked": ["Pulp Fictoin"]}), 404)
    assert body["detail"] == library_message(web_rec.recommend, liked=["Pulp Fictoin"])
    assert "did you mean 'Pulp Fiction'" in body["detail"]
    body = assert_problem(client.post("/v1/explain", json={"user": "nobody", "movie": "Heat"}),
                          404)
    assert body["detail"] == library_message(web_rec.explain, "nobody", "Heat")
    body = assert_problem(client.post("/v1/explain", json={"user": "u1", "movie": "Hea"}), 404)
    assert body["detail"] == library_message(web_rec.explain, "u1", "Hea")


@pytest.mark.parametrize("request_body, status", [
    ({"user": "u1", "k": 0}, 422),
    ({"user": "u1", "k": -3}, 422),
    ({}, 422),
    ({"query": "   "}, 422),
    ({"user": "u1", "filters": {"genres": ["Nope"]}}, 404),
])
def test_library_errors(client, web_rec, request_body, status):
    body = assert_problem(client.post("/v1/recommend", json=request_body), status)
    kwargs = {**request_body}
    if "filters" in kwargs:
        kwargs["filters"] = {k: v for k, v in kwargs["filters"].items() if v is not None}
    assert body["detail"] == library_message(web_rec.recommend, **kwargs)


@pytest.mark.parametrize("request_body, where", [
    ({"user": "u1", "k": "ten"}, ["body", "k"]),
    ({"user": "u1", "k": 2.5}, ["body", "k"]),
    ({"user": "u1", "k": True}, ["body", "k"]),
    ({"lked": ["Heat"]}, ["body", "lked"]),
    ({"user": "u1", "filters": {"genre": ["Crime"]}}, ["body", "filters", "genre"]),
    ({"liked": "Heat"}, ["body", "liked"]),
    ({"liked": ["x"] * 51}, ["body", "liked"]),
    ({"query": "x" * 501}, ["body", "query"]),
])
def test_validation_errors_name_the_field(client, request_body, where):
    body = assert_problem(client.post("/v1/recommend", json=request_body), 422)
    assert [e["loc"] for e in body["errors"]][0] == where
    assert body["detail"].startswith(".".join(where) + ":")


def test_k_over_the_limit(client):
    body = assert_problem(client.post("/v1/recommend", json={"user": "u1", "k": MAX_K + 1}), 422)
    assert body["detail"] == f"k must be at most {MAX_K}, got {MAX_K + 1}"


def test_malformed_and_oversized_bodies(client):
    assert_problem(client.post("/v1/recommend", content=b'{"user": ',
                               headers={"content-type": "application/json"}), 400)
    big = json.dumps({"query": "x" * 70_000}).encode()
    body = assert_problem(client.post("/v1/recommend", content=big,
                                      headers={"content-type": "application/json"}), 413)
    assert "over the limit" in body["detail"]

    def chunks():  # no Content-Length: counted while reading
        for _ in range(100):
            yield b" " * 1024

    assert_problem(client.post("/v1/recommend", content=chunks(),
                               headers={"content-type": "application/json"}), 413)


def test_routing_errors(client):
    body = assert_problem(client.get("/v1/nothing"), 404)
    assert body["detail"] == "no such endpoint: GET /v1/nothing"
    assert_problem(client.get("/v1/recommend"), 405)
    assert_problem(client.get("/v1/movies", params={"limit": 0}), 422)
    assert_problem(client.get("/static/..%2Fapp.py"), 404)
    assert_problem(client.get("/static/secret.txt"), 404)


def test_unexpected_error_is_a_500_without_details(web_rec):
    from fastapi.testclient import TestClient

    from kgrec.web.app import create_app

    broken = copy.copy(web_rec)

    def boom(*args, **kwargs):
        raise RuntimeError("internal detail that must not leak")

    broken.recommend = boom
    with TestClient(create_app(broken), raise_server_exceptions=False) as test_client:
        body = assert_problem(test_client.post("/v1/recommend", json={"user": "u1"}), 500)
    assert "internal detail" not in json.dumps(body)


# -- page and docs -------------------------------------------------------------------------
def test_page_and_assets(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert 'src="/static/app.js"' in page.text and 'href="/static/style.css"' in page.text
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert "http://" not in asset.text and "https://" not in asset.text  # works offline
    assert "https://" not in page.text.replace("http://www.w3.org", "")


def test_openapi_and_offline_docs(client):
    spec = client.get("/openapi.json").json()
    assert {"/health", "/v1/model", "/v1/recommend", "/v1/explain", "/v1/movies"} <= set(spec["paths"])
    assert "RecommendRequest" in spec["components"]["schemas"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
    scripts = [line.split('src="')[1].split('"')[0] for line in docs.text.splitlines()
               if '<script src="' in line]
    assert scripts and all(client.get(src).status_code == 200 for src in scripts)



def test_openapi_describes_every_answer_by_its_model(client):
    """The answers are serialised without FastAPI's response validation; the OpenAPI
    document still names each route's response model."""
    spec = client.get("/openapi.json").json()
    models = {("/health", "get"): "Health", ("/v1/model", "get"): "ModelInfo",
              ("/v1/recommend", "post"): "RecommendResponse",
              ("/v1/explain", "post"): "ExplainResponse",
              ("/v1/feedback", "post"): "FeedbackResponse",
              ("/v1/movies", "get"): "MoviesResponse"}
    for (path, method), name in models.items():
        content = spec["paths"][path][method]["responses"]["200"]["content"]
        assert content["application/json"]["schema"] == {"$ref": f"#/components/schemas/{name}"}
        assert name in spec["components"]["schemas"]


ANSWERS = [("post", "/v1/recommend", {"user": "u1", "k": 4}, "RecommendResponse"),
           ("post", "/v1/recommend", {"user": "u1", "k": 3, "graph": True,
                                      "filters": {"genres": ["Crime"]}}, "RecommendResponse"),
           ("post", "/v1/recommend", {"liked": ["Heat"], "k": 5, "exclude_seen": False},
            "RecommendResponse"),
           ("post", "/v1/recommend", {"query": "a crime film like Pulp Fiction", "k": 3},
            "RecommendResponse"),
           ("post", "/v1/recommend", {"user": "u1", "k": 2, "explain": False},
            "RecommendResponse"),
           ("post", "/v1/explain", {"user": "u1", "movie": "Heat"}, "ExplainResponse"),
           ("post", "/v1/explain", {"user": "u1", "movie": "Heat", "graph": False, "k": 1},
            "ExplainResponse"),
           ("post", "/v1/feedback", {"who": "json-check", "item": "Heat"}, "FeedbackResponse"),
           ("get", "/v1/movies?search=the&limit=3", None, "MoviesResponse"),
           ("get", "/health", None, "Health"), ("get", "/v1/model", None, "ModelInfo")]


@pytest.mark.parametrize("method, path, body, model", ANSWERS)
def test_answers_are_what_their_response_model_gives(client, monkeypatch, method, path, body,
                                                      model):
    """Every answer is byte for byte what FastAPI's validation of the same values through
    the route's response model, then its JSON, gives (what the routes returned before
    they serialised their answers themselves)."""
    from kgrec.web import app as web_app
    from kgrec.web import schemas

    seen = []
    real = web_app.json_response

    def recording(values):
        seen.append(values)
        return real(values)

    monkeypatch.setattr(web_app, "json_response", recording)
    response = (client.post(path, json=body) if method == "post" else client.get(path))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    schema = getattr(schemas, model)
    if path == "/v1/model":  # serialised once, at start-up, through the model
        assert not seen
        again = schema.model_validate_json(response.content).model_dump_json()
    else:
        assert len(seen) == 1
        again = schema.model_validate(seen[0]).model_dump_json()
    assert response.content == again.encode()
    if "recommend" in path:  # the answer's request is the request as parsed
        parsed = schemas.RecommendRequest.model_validate(body)
        assert response.json()["request"] == parsed.model_dump(mode="json")


def test_errors_keep_the_problem_shape_on_every_route(client):
    """Errors raised inside the computing threads still become problem documents."""
    for path, body, status in [("/v1/recommend", {"user": "nobody-here", "k": 3}, 404),
                               ("/v1/recommend", {"user": "u1", "k": MAX_K + 1}, 422),
                               ("/v1/explain", {"user": "u1", "movie": "No Such Film"}, 404),
                               ("/v1/feedback", {"who": "u1", "item": "Heat",
                                                 "signal": "love"}, 422)]:
        problem = assert_problem(client.post(path, json=body), status)
        assert problem["instance"] == path



# -- feedback ------------------------------------------------------------------------------
def test_feedback_changes_the_next_recommendation(client, web_rec):
    first = client.post("/v1/recommend", json={"user": "u3", "k": 5}).json()["recommendations"]
    top = first[0]["item_id"]
    body = client.post("/v1/feedback", json={"who": "u3", "item": top,
                                             "signal": "dislike"}).json()
    assert body["session"] == "user:u3" and body["events"][-1]["signal"] == "dislike"
    after = client.post("/v1/recommend", json={"user": "u3", "k": 5}).json()["recommendations"]
    assert top not in [r["item_id"] for r in after]
    undone = client.post("/v1/feedback", json={"who": "u3", "signal": "undo"}).json()
    assert undone["events"] == []
    again = client.post("/v1/recommend", json={"user": "u3", "k": 5}).json()["recommendations"]
    assert again[0]["item_id"] == top


def test_feedback_of_a_cold_start_session(client):
    ask = {"liked": ["Heat"], "k": 5, "session": "alice"}
    top = client.post("/v1/recommend", json=ask).json()["recommendations"][0]["item_id"]
    body = client.post("/v1/feedback", json={"who": "alice", "item": top,
                                             "signal": "not_interested"}).json()
    assert body["session"] == "session:alice"
    after = client.post("/v1/recommend", json=ask).json()["recommendations"]
    assert top not in [r["item_id"] for r in after]


def test_feedback_errors(client, web_rec):
    body = assert_problem(client.post("/v1/feedback", json={"who": "u1", "item": "Heat",
                                                            "signal": "love"}), 422)
    assert body["detail"] == library_message(web_rec.feedback, "u1", "Heat", "love")
    body = assert_problem(client.post("/v1/feedback", json={"who": "u1", "item": "Pulp Fictoin"}),
                          404)
    assert "did you mean 'Pulp Fiction'" in body["detail"]


@pytest.mark.parametrize("concurrency", [1, 3])
def test_requests_computed_at_once_never_exceed_the_concurrency(web_model, concurrency):
    """``create_app(concurrency=N)``: however many requests arrive together, at most N run
    the recommender at a time (and N of them do, when N > 1)."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    from kgrec.recommender import Recommender
    from kgrec.web.app import create_app

    rec = Recommender.load(web_model)
    inside, peak, lock = 0, 0, threading.Lock()
    real = rec.recommend

    def slow_recommend(*args, **kwargs):
        nonlocal inside, peak
        with lock:
            inside += 1
            peak = max(peak, inside)
        deadline = time.monotonic() + 2.0
        while peak < concurrency and time.monotonic() < deadline:  # wait for company
            time.sleep(0.01)
        time.sleep(0.05)
        with lock:
            inside -= 1
        return real(*args, **kwargs)

    rec.recommend = slow_recommend
    user = rec.dataset_.ratings.user_id.iloc[0]
    with TestClient(create_app(rec, concurrency=concurrency)) as client:
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: client.post(
                "/v1/recommend", json={"user": user, "k": 3, "explain": False}), range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert peak == concurrency


def test_concurrency_must_be_a_positive_integer(web_rec):
    from kgrec.web.app import create_app

    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="concurrency"):
            create_app(web_rec, concurrency=bad)
