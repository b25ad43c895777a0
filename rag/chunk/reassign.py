"""Re-assignment of interleaved articles: when a file interleaves two articles (a newspaper page
set in columns, copied in reading order across both), body paragraphs are moved to the article
whose vocabulary they match, and a paragraph joined across two articles is split where the
vocabulary changes. A naive-Bayes model over character bigrams, one per article.
"""

from __future__ import annotations

import math
from collections import Counter

from rag.chunk.blocks import Block
from rag.chunk.clean import find_garbled, normalize
from rag.chunk.layout import Line
from rag.chunk.sections import Article, Para


def reassign_interleaved(articles: list[Article], paras: list[Para]) -> list[Para]:
    """The paragraphs of interleaved `articles`, mixed paragraphs split and each body paragraph in
    the article it reads like (paragraphs that move are marked `reassigned`)."""
    paras = _split_mixed(articles, paras)
    _reassign_by_content(articles, paras)
    return paras


def _bigrams(s: str) -> list[str]:
    t = "".join(c for c in normalize(s).text if c.isalnum())
    return [t[i : i + 2] for i in range(len(t) - 1)]


class _ArticleModel:
    """Character-bigram language model per article, Dirichlet-smoothed towards the whole file."""

    MU = 400.0

    def __init__(self, articles: list[Article], paras: list[Para]):
        self.articles = articles
        self.counts: dict[int, Counter[str]] = {a.index: Counter() for a in articles}
        for p in paras:
            if p.kind == "body":
                self.counts[p.article.index].update(_bigrams(p.block.text))
        self.totals = {k: sum(c.values()) for k, c in self.counts.items()}
        self.bg: Counter[str] = Counter()
        for c in self.counts.values():
            self.bg.update(c)
        self.bg_total = sum(self.bg.values()) or 1

    def scores(self, grams: list[str], own: int | None = None) -> dict[int, float]:
        """Log-likelihood per article; the paragraph itself is left out of its `own` article."""
        out: dict[int, float] = {}
        mine = Counter(grams)
        n = len(grams)
        for a in self.articles:
            c, tot = self.counts[a.index], self.totals[a.index]
            if tot < 200:
                continue
            lo = a.index == own
            score = 0.0
            for g in grams:
                pbg = (self.bg[g] - mine[g] + 0.5) / (self.bg_total - n + 1)
                cg = c[g] - mine[g] if lo else c[g]
                score += math.log((cg + self.MU * pbg) / ((tot - n if lo else tot) + self.MU))
            out[a.index] = score
        return out


def _split_mixed(articles: list[Article], paras: list[Para], margin: float = 0.2) -> list[Para]:
    """Undo joins across interleaved articles: a body paragraph whose lines read like two
    different articles is split where the vocabulary changes."""
    model = _ArticleModel(articles, paras)
    out: list[Para] = []
    for p in paras:
        if p.kind != "body" or len(p.block.lines) < 2:
            out.append(p)
            continue
        labels: list[int | None] = []
        for ln in p.block.lines:
            grams = _bigrams(ln.text)
            sc = model.scores(grams, own=p.article.index)
            if len(grams) < 12 or len(sc) < 2:
                labels.append(None)
                continue
            ranked = sorted(sc.items(), key=lambda kv: -kv[1])
            confident = (ranked[0][1] - ranked[1][1]) / len(grams) > margin
            labels.append(ranked[0][0] if confident else None)
        known = [x for x in labels if x is not None]
        if all(x == p.article.index for x in known):
            out.append(p)
            continue
        # unknown labels follow the previous line (the paragraph's article at the start),
        # then cut where the label changes
        cur = p.article.index
        groups: list[list[Line]] = []
        last = None
        for ln, lab in zip(p.block.lines, labels):
            cur = lab if lab is not None else cur
            if groups and cur == last:
                groups[-1].append(ln)
            else:
                groups.append([ln])
            last = cur
        for g in groups:
            blk = Block("body", g, garbled=find_garbled("".join(x.text for x in g)))
            out.append(Para(blk, p.article, p.section, "body"))
    return out


def _reassign_by_content(articles: list[Article], paras: list[Para], margin: float = 0.45) -> None:
    """Move body paragraphs that read like another article of the same file into it.

    Each article's vocabulary is learnt from the paragraphs it holds; a paragraph moves when
    another article explains it better by `margin` nats per bigram (leave-one-out, two passes).
    """
    body = [p for p in paras if p.kind == "body" and not p.block.inline]
    origin = {id(p): (p.article, p.section) for p in body}
    for _ in range(2):
        model = _ArticleModel(articles, paras)
        moved = False
        for p in body:
            grams = _bigrams(p.block.text)
            if len(grams) < 12:
                continue
            scores = model.scores(grams, own=p.article.index)
            if p.article.index not in scores or len(scores) < 2:
                continue  # its own article (or every other) is too short to compare with
            best = max(scores, key=scores.__getitem__)
            if best != p.article.index and (scores[best] - scores[p.article.index]) / len(grams) > margin:
                target = next(a for a in articles if a.index == best)
                home, home_section = origin[id(p)]
                p.article, p.section = target, (home_section if target is home else target.root)
                p.reassigned = target is not home
                moved = True
        if not moved:
            break
