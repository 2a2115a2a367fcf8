"""Serving: what one request needs, with no state shared between requests.

:mod:`~kgrec.serve.request` (the typed request and result), :mod:`~kgrec.serve.catalog`
(per-movie titles, years and KG links, built once), :mod:`~kgrec.serve.filters`
(validated filters), :mod:`~kgrec.serve.scoring` (history, query and cold-start scores),
:mod:`~kgrec.serve.records` (results with explanations), :mod:`~kgrec.serve.query` (the
title resolver and legacy entity parser) and :mod:`~kgrec.serve.artifacts` (the
saved-model folder).

Understanding people: :mod:`~kgrec.serve.intent` (free text → typed ``QueryIntent``),
:mod:`~kgrec.serve.intent_scoring` (scores and explanations that obey it),
:mod:`~kgrec.serve.feedback` (sessions: like, dislike, more like this, undo),
:mod:`~kgrec.serve.profile` (taste profiles) and :mod:`~kgrec.serve.liked` (few liked
titles → scores).
"""
