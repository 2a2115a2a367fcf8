"""Scoring obeys the intent: hard filters, soft ranking, true explanations."""

from __future__ import annotations

import numpy as np

from kgrec.explain import path_exists
from kgrec.serve.intent import parse
from kgrec.serve.intent_scoring import allowed, rank_intent, score_intent


def genres_of(facts, i):
    _, m = facts.incidence["has_genre"]
    return {facts.kg.labels[facts.kg.nodes["genre"][j]] for j in m[i].indices}


def test_exclusion_and_year_bounds_are_hard(vocab, facts):
    intent = parse("a funny movie but not animated, before 1990", vocab)
    results = rank_intent(intent, facts, 400)
    assert results
    for i, _, _ in results:
        assert "Animation" not in genres_of(facts, i)
        assert 0 < facts.years[i] <= 1989
    top = [i for i, _, _ in results[:10]]
    assert all("Comedy" in genres_of(facts, i) for i in top)


def test_decade_filter_and_explanation(vocab, facts):
    results = rank_intent(parse("a 1950s film noir", vocab), facts, 5)
    assert results
    for i, _, exps in results:
        assert 1950 <= facts.years[i] <= 1959
        assert exps and "1950s Film-Noir" in exps[0].text
        assert path_exists(facts.kg, exps[0])


def test_role_is_obeyed_and_explained(vocab, facts):
    results = rank_intent(parse("movies directed by Steven Spielberg", vocab), facts, 5)
    spielberg = set(facts.movies_of("person:Steven Spielberg", "directed_by"))
    assert {i for i, _, _ in results} <= spielberg
    for _, _, exps in results:
        assert "directed by Steven Spielberg, as you asked" in exps[0].text
        assert path_exists(facts.kg, exps[0])


def test_like_anchor_shares_creator(vocab, facts, title_index):
    results = rank_intent(parse("something like Heat", vocab), facts, 10)
    heat = title_index["Heat"]
    assert heat not in [i for i, _, _ in results]
    # Michael Mann's Collateral and The Insider share Heat's director and a genre
    assert {title_index["Collateral"], title_index["The Insider"]} <= {i for i, _, _ in results[:3]}
    for i, _, exps in results:
        like = [e for e in exps if "like Heat" in e.text]
        assert like and path_exists(facts.kg, like[0])


def test_text_only_results_are_explained(vocab, facts):
    intent = parse("a quiet story about memory", vocab)
    rng = np.random.default_rng(0)
    text = rng.random(facts.n)
    results = rank_intent(intent, facts, 10, text=text)
    assert len(results) == 10 and all(exps for _, _, exps in results)


def test_user_scores_personalise_within_constraints(vocab, facts):
    intent = parse("westerns", vocab)
    keep = allowed(intent, facts)
    user = np.zeros(facts.n)
    westerns = facts.movies_of("genre:Western")
    fav = int(westerns[-1])
    user[fav] = 10.0
    s = score_intent(intent, facts, user=user)
    assert int(np.argmax(s)) == fav and keep.all()


def test_a_person_without_a_role_ranks_their_main_role_first(facts):
    """"Scorsese" means the films he directed before those he produced or appears in."""
    from kgrec.serve.intent_scoring import OTHER_ROLE_WEIGHT

    roles = ("directed_by", "starring", "written_by", "produced_by")
    found = None
    for person in facts.kg.nodes["person"]:
        counts = {r: facts.movies_of(person, r).size for r in roles if r in facts.incidence}
        top = sorted((c for c in counts.values() if c), reverse=True)
        if len(top) >= 2 and top[0] > top[1]:               # two roles, one main
            found = person, counts
            break
    assert found is not None, "the sample should have someone with two roles"
    person, counts = found
    main = max(counts, key=counts.get)
    weights = facts.person_scores(person)
    main_movies = facts.movies_of(person, main)
    others = np.setdiff1d(facts.movies_of(person), main_movies)
    assert (weights[main_movies] == 1.0).all() and others.size
    assert (weights[others] == OTHER_ROLE_WEIGHT).all()
    assert weights[np.setdiff1d(np.arange(facts.n), facts.movies_of(person))].max() == 0
    asked = facts.person_scores(person, main)                 # a role asked: only that role
    assert set(np.nonzero(asked)[0]) == set(main_movies.tolist())
