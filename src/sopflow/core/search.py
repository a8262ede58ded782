"""Full-text search over wiki pages and tickets: tokenizer, BM25 index, substring filter, related pages.

Pure: plain data in, plain data out. No I/O, no clock, no third-party dependency.

Tokens
    Text is NFKC-normalised (full-width ``ＶＰＮ４０３`` becomes ``vpn403``) and case-folded. Runs of CJK
    characters (Han, kana, Hangul) give their characters (unigrams) and every pair of adjacent characters
    (bigrams): ``数据库连接`` gives ``数 据 库 连 接 数据 据库 库连 连接``. Other runs give words of letters
    and digits; words joined by ``- . _ /`` also give the joined form, so ``ISS-12`` gives ``iss 12 iss-12``.
    No dictionary and no segmenter: bigrams find any Chinese substring of two or more characters, where a
    segmenter finds only the words it cut (``库连接`` or ``据库`` would be lost), and cost nothing to load.

Query
    A query is cut into *words* the same way (a CJK run, or a Latin word / joined form). A CJK word of two or
    more characters is looked up by its bigrams only (its unigrams would match almost every page), a single
    CJK character by its unigram, a joined form by its parts and itself. A page *matches* a word when it holds
    all of the word's required tokens (all its bigrams; a joined form as a whole).

Ranking
    BM25 (k1 = 1.2, b = 0.75) per field (body, title, tags), each field with its own length normalisation,
    summed with weights (title ×2, tags ×1.5) under one idf per token. Pages that match more query words
    come first (a CJK word of three or more characters counts only where it occurs as written, not as
    scattered bigrams); BM25 orders pages that match as many, ×1.25 where all the words stand together in
    query order ("connection timeout"). Ties go by key. So scores fall within a group of pages matching
    the same number of words, not necessarily across groups.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from operator import add
from typing import Any

__all__ = ["Doc", "Hit", "SearchIndex", "matches", "query_words", "related", "tokenize"]

K1 = 1.2
B = 0.75
FIELDS = ("body", "title", "tags")
FIELD_WEIGHTS = {"body": 1.0, "title": 2.0, "tags": 1.5}
PHRASE_BONUS = 1.25
FORMAT = "sopflow-search/1"

# Han (incl. extension A, compatibility and the supplementary planes), kana, Hangul syllables.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_CJK_SPLIT = re.compile(f"([{_CJK}]+)")
_WORD = re.compile(r"[^\W_]+(?:[-._/][^\W_]+)*")
_JOINER = re.compile(r"[-._/]")
_HEADING = re.compile(r"^\s*#+\s*")


# ---------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Doc:
    """A searchable page: ``key`` (a path or a ticket ID), title, body text and tags."""

    key: str
    title: str
    text: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    """One search result. ``line`` is the best matching line of the body (stripped) and ``line_no`` its
    1-based number; a page that matched only by title or tags has ``line == ""`` and ``line_no is None``."""

    key: str
    title: str
    score: float
    line: str
    line_no: int | None


@dataclass(frozen=True)
class _Word:
    """A query word: the tokens looked up, and those a page must hold to count as matching the word."""

    text: str
    tokens: tuple[str, ...]
    required: frozenset[str]
    cjk: bool


# ------------------------------------------------------------------------------------------ tokenizer


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _runs(norm: str) -> Iterator[tuple[bool, str]]:
    """Yield ``(is_cjk, run)`` over normalised text: CJK runs, and Latin words (joined forms whole)."""
    for i, part in enumerate(_CJK_SPLIT.split(norm)):
        if i % 2:
            yield True, part
        elif part:
            for m in _WORD.finditer(part):
                yield False, m.group()


def _terms(norm: str, *, unigrams: bool = True) -> list[str]:
    """Tokens of normalised text. Without ``unigrams``, a CJK run of two or more characters gives only bigrams."""
    out: list[str] = []
    for cjk, run in _runs(norm):
        if cjk:
            if unigrams or len(run) == 1:
                out.extend(run)
            if len(run) > 1:
                out.extend(map(add, run, run[1:]))
        elif _JOINER.search(run):
            out.extend(p for p in _JOINER.split(run) if p)
            out.append(run)
        else:
            out.append(run)
    return out


def tokenize(text: str) -> list[str]:
    """Tokens of ``text`` in order: CJK unigrams and bigrams, case-folded Latin words and joined forms."""
    return _terms(_normalize(text))


def query_words(query: str) -> list[str]:
    """The words a query is cut into (normalised), in order, without repeats."""
    return [w.text for w in _parse_query(query)]


def _parse_query(query: str) -> list[_Word]:
    words: dict[str, _Word] = {}
    for cjk, run in _runs(_normalize(query)):
        if run in words:
            continue
        if cjk:
            toks = tuple(dict.fromkeys(map(add, run, run[1:]))) if len(run) > 1 else (run,)
            words[run] = _Word(run, toks, frozenset(toks), True)
        elif _JOINER.search(run):
            parts = [p for p in _JOINER.split(run) if p]
            words[run] = _Word(run, (*dict.fromkeys(parts), run), frozenset((run,)), False)
        else:
            words[run] = _Word(run, (run,), frozenset((run,)), False)
    return list(words.values())


# --------------------------------------------------------------------------------------------- index


def _bm25_idf(n_docs: int, df: int) -> float:
    """Lucene's BM25 idf: always positive, so a token in every page still counts a little."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


class SearchIndex:
    """An inverted index over :class:`Doc` s. Build with :meth:`build`; store with :meth:`to_dict`.

    Postings are kept per field as ``token -> [doc << 8 | min(tf, 255), ...]`` in ascending doc order (one
    int per posting keeps memory and the JSON form small; a tf above 255 changes nothing under BM25's
    saturation).
    """

    __slots__ = ("_avg", "_df", "_keys", "_lens", "_norm", "_post", "_stored", "_tags", "_texts", "_titles")

    def __init__(
        self,
        keys: list[str],
        titles: list[str],
        texts: list[str],
        tags: list[tuple[str, ...]],
        lens: dict[str, list[int]],
        post: dict[str, dict[str, list[int]]],
        df: dict[str, int],
        stored: dict[str, dict[str, list[int]]] | None = None,
    ) -> None:
        self._keys = keys
        self._titles = titles
        self._texts = texts
        self._tags = tags
        self._lens = lens
        self._post = post
        # Postings as read by from_dict (gap-encoded), decoded into _post on first use.
        self._stored = stored or {f: {} for f in FIELDS}
        self._df = df
        self._norm: dict[int, str] = {}  # normalised title + tags + text, filled on demand
        n = len(keys)
        self._avg = {f: (sum(lens[f]) / n if n else 0.0) or 1.0 for f in FIELDS}

    # -- building ------------------------------------------------------------------------------------

    @classmethod
    def build(cls, docs: Iterable[Doc]) -> SearchIndex:
        """Index ``docs``. A later doc with the same key replaces an earlier one."""
        by_key: dict[str, Doc] = {}
        for doc in docs:
            by_key.pop(doc.key, None)
            by_key[doc.key] = doc
        keys: list[str] = []
        titles: list[str] = []
        texts: list[str] = []
        tags: list[tuple[str, ...]] = []
        lens: dict[str, list[int]] = {f: [] for f in FIELDS}
        post: dict[str, dict[str, list[int]]] = {f: {} for f in FIELDS}
        df: Counter[str] = Counter()
        normalized: dict[int, str] = {}
        for d, doc in enumerate(by_key.values()):
            keys.append(doc.key)
            titles.append(doc.title)
            texts.append(doc.text)
            tags.append(tuple(doc.tags))
            seen: set[str] = set()
            fields = {"title": _normalize(doc.title), "tags": _normalize(" ".join(doc.tags))}
            fields["body"] = _normalize(doc.text)
            normalized[d] = _join_normalized(fields["title"], fields["tags"], fields["body"])
            for field in FIELDS:
                toks = _terms(fields[field])
                lens[field].append(len(toks))
                counts = Counter(toks)
                fpost = post[field]
                base = d << 8
                for tok, tf in counts.items():
                    plist = fpost.get(tok)
                    if plist is None:
                        fpost[tok] = [base | (tf if tf < 255 else 255)]
                    else:
                        plist.append(base | (tf if tf < 255 else 255))
                seen.update(counts)
            df.update(seen)
        index = cls(keys, titles, texts, tags, lens, post, dict(df))
        index._norm = normalized
        return index

    def __len__(self) -> int:
        return len(self._keys)

    # -- searching -----------------------------------------------------------------------------------

    def search(self, query: str, limit: int | None = 20) -> list[Hit]:
        """Pages matching ``query``, best first: most query words matched, then BM25 score, then key.

        ``limit=None`` returns every page that holds at least one query token.
        """
        words = _parse_query(query)
        if not words or not self._keys or (limit is not None and limit <= 0):
            return []
        tokens = list(dict.fromkeys(t for w in words for t in w.tokens))
        # One query token (one Latin word, one bigram, one character): BM25 alone decides.
        plain = len(tokens) == 1
        n = len(self._keys)
        scores: dict[int, float] = {}
        held: dict[int, set[str]] = {}
        for tok in tokens:
            df = self._df.get(tok)
            if not df:
                continue
            idf = _bm25_idf(n, df)
            for field in FIELDS:
                plist = self._postings(field, tok)
                if not plist:
                    continue
                weight = idf * FIELD_WEIGHTS[field] * (K1 + 1.0)
                lens = self._lens[field]
                norm = K1 / self._avg[field] * B
                base = K1 * (1.0 - B)
                for packed in plist:
                    d = packed >> 8
                    tf = packed & 255
                    s = weight * tf / (tf + base + norm * lens[d])
                    if d in scores:
                        scores[d] += s
                        if not plain:
                            held[d].add(tok)
                    else:
                        scores[d] = s
                        if not plain:
                            held[d] = {tok}
        if not scores:
            return []
        if plain:
            ranked = sorted(scores, key=lambda d: (-scores[d], self._keys[d]))
        else:
            covered = {d: self._covered(d, words, h) for d, h in held.items()}
            if len(words) > 1:
                # The words next to each other, in query order (any punctuation or space between them),
                # earn a bonus: "connection timeout" over a page with "connection" and "…_timeout" apart.
                phrase = re.compile(r"[\W_]*".join(re.escape(w.text) for w in words))
                for d, c in covered.items():
                    if c == len(words) and phrase.search(self._normalized(d)):
                        scores[d] *= PHRASE_BONUS
            ranked = sorted(scores, key=lambda d: (-covered[d], -scores[d], self._keys[d]))
        if limit is not None:
            ranked = ranked[:limit]
        hits = []
        for d in ranked:
            line_no, line = _best_line(self._texts[d], self._titles[d], words)
            hits.append(Hit(self._keys[d], self._titles[d], scores[d], line, line_no))
        return hits

    def _postings(self, field: str, tok: str) -> list[int] | None:
        plist = self._post[field].get(tok)
        if plist is None:
            stored = self._stored[field].get(tok)
            if stored is not None:
                plist = self._post[field][tok] = _undelta(stored)
        return plist

    def _covered(self, d: int, words: list[_Word], held: set[str]) -> int:
        """How many query words page ``d`` matches: all the word's required tokens, and a CJK word of three
        or more characters also as a substring (its bigrams alone may come from different places)."""
        n = 0
        for w in words:
            if not w.required <= held:
                continue
            if w.cjk and len(w.required) > 1 and not self._contains(d, w.text):
                continue
            n += 1
        return n

    def _contains(self, d: int, cjk_word: str) -> bool:
        """Whether page ``d`` holds the (normalised) CJK word. The raw text is tried first (normalising
        rarely changes CJK text, and is the slow part), whether or not ``_norm`` is filled, so a built and
        a loaded index agree."""
        if any(cjk_word in raw for raw in (self._texts[d], self._titles[d], *self._tags[d])):
            return True
        return cjk_word in self._normalized(d)

    def _normalized(self, d: int) -> str:
        norm = self._norm.get(d)
        if norm is None:
            norm = self._norm[d] = _join_normalized(
                _normalize(self._titles[d]), _normalize(" ".join(self._tags[d])), _normalize(self._texts[d])
            )
        return norm

    # -- storing -------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form; :meth:`from_dict` rebuilds an index that answers exactly the same."""
        return {
            "format": FORMAT,
            "docs": [
                {"key": k, "title": t, "text": x, "tags": list(g)}
                for k, t, x, g in zip(self._keys, self._titles, self._texts, self._tags, strict=True)
            ],
            "lens": {f: list(self._lens[f]) for f in FIELDS},
            "postings": {
                f: {
                    **{t: _delta(p) for t, p in self._post[f].items() if t not in self._stored[f]},
                    **self._stored[f],
                }
                for f in FIELDS
            },
            "df": dict(self._df),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SearchIndex:
        """Rebuild from :meth:`to_dict`; raise ``ValueError`` for anything else (a cache then rebuilds)."""
        try:
            if d["format"] != FORMAT:
                raise ValueError(f"unknown search index format: {d['format']!r}")
            docs = d["docs"]
            keys = [str(x["key"]) for x in docs]
            titles = [str(x["title"]) for x in docs]
            texts = [str(x["text"]) for x in docs]
            tags = [tuple(str(t) for t in x["tags"]) for x in docs]
            lens = {f: [int(v) for v in d["lens"][f]] for f in FIELDS}
            stored = {f: dict(d["postings"][f]) for f in FIELDS}
            df = {str(t): int(c) for t, c in d["df"].items()}
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a search index: {exc}") from exc
        if any(len(lens[f]) != len(keys) for f in FIELDS):
            raise ValueError("not a search index: field lengths disagree with the documents")
        if not all(isinstance(p, list) for f in FIELDS for p in stored[f].values()):
            raise ValueError("not a search index: postings must be lists")
        return cls(keys, titles, texts, tags, lens, {f: {} for f in FIELDS}, df, stored)


def _delta(plist: list[int]) -> list[int]:
    """Postings with each doc number stored as the gap from the previous one (smaller JSON)."""
    out = []
    prev = 0
    for p in plist:
        out.append(p - (prev << 8))
        prev = p >> 8
    return out


def _undelta(stored: list[int]) -> list[int]:
    docs = accumulate([v >> 8 for v in stored])
    return [d << 8 | (v & 255) for d, v in zip(docs, stored, strict=True)]


def _join_normalized(title: str, tags: str, body: str) -> str:
    return f"{title}\n{tags}\n{body}"


def _best_line(text: str, title: str, words: list[_Word]) -> tuple[int | None, str]:
    """The body line holding the most query words, then the most query tokens; the first such line wins.

    A Markdown heading that only repeats the title is passed over.
    """
    probes = [(t, w) for w in words for t in w.tokens]
    norm_title = _normalize(title).strip()
    best: tuple[int, int] = (0, 0)
    best_at: tuple[int | None, str] = (None, "")
    for no, line in enumerate(text.splitlines(), 1):
        norm = _normalize(line)
        if not any(t in norm for t, _ in probes):
            continue
        if norm_title and _HEADING.match(norm) and _HEADING.sub("", norm).strip() == norm_title:
            continue
        toks = set(_terms(norm))
        n_tokens = sum(1 for t, _ in probes if t in toks)
        if not n_tokens:
            continue
        n_words = sum(1 for w in words if (w.text in norm if w.cjk else w.required <= toks))
        if (n_words, n_tokens) > best:
            best = (n_words, n_tokens)
            best_at = (no, line.strip())
    return best_at


# ------------------------------------------------------------------------------------------- filter


def matches(query: str, text: str) -> bool:
    """True when every query word is in ``text``: a CJK word as a substring, any other word as a whole
    word (case-insensitive; ``ISS-12`` matches ``iss-12`` but not ``ISS-120``). An empty query matches."""
    words = _parse_query(query)
    if not words:
        return True
    norm = _normalize(text)
    latin: set[str] | None = None
    for w in words:
        if w.cjk:
            if w.text not in norm:
                return False
            continue
        if w.text not in norm:
            return False
        if latin is None:
            latin = {run for cjk, run in _runs(norm) if not cjk}
            latin.update(p for run in list(latin) if _JOINER.search(run) for p in _JOINER.split(run) if p)
        if w.text not in latin:
            return False
    return True


# ------------------------------------------------------------------------------------------ related

TAG_WEIGHT = 1.0
FIELD_WEIGHT = 1.0
TEXT_WEIGHT = 4.0
MIN_COSINE = 0.05


@lru_cache(maxsize=4096)  # a page compared with many targets (the site's 10,000 tickets) is tokenized once
def _vector_terms(doc: Doc) -> Counter[str]:
    """Content tokens for similarity: bigrams, single-character CJK runs and Latin words; title counted twice.
    Cached: callers must not change the Counter returned."""
    title = _terms(_normalize(doc.title), unigrams=False)
    return Counter(_terms(_normalize(doc.text), unigrams=False) + title + title)


def related(
    target: Doc,
    candidates: Iterable[Doc],
    *,
    shared_fields: Mapping[str, Mapping[str, str]] | None = None,
    limit: int = 5,
) -> list[tuple[str, float, list[str]]]:
    """Candidates most related to ``target``: ``(key, score, reasons)``, best first (ties by key).

    score = 1 per shared tag + 1 per shared field value + 4 × cosine similarity of tf-idf vectors of title
    and text (bigrams and words; log tf, smoothed idf over target and candidates; a cosine under 0.05 counts
    as none). ``shared_fields`` gives field values per key (the target's too); a field is shared when both
    have the same value under the same name. Reasons read ``tag 硬件``, ``field 问题类型=网络故障`` and
    ``text: 数据库连接 超时`` (up to three of the strongest passages the two texts have in common). The
    target's own key and candidates scoring 0 are left out.
    """
    cands = [c for c in candidates if c.key != target.key]
    if not cands or limit <= 0:
        return []
    fields = shared_fields or {}
    target_fields = {k: str(v).strip() for k, v in (fields.get(target.key) or {}).items()}
    target_tags = {_normalize(t).strip() for t in target.tags}

    counts = [_vector_terms(target), *(_vector_terms(c) for c in cands)]
    df: Counter[str] = Counter()
    for c in counts:
        df.update(c.keys())
    n = len(counts)
    idf = {t: math.log((n + 1) / (f + 1)) + 1.0 for t, f in df.items()}

    def vector(c: Counter[str]) -> tuple[dict[str, float], float]:
        v = {t: (1.0 + math.log(tf)) * idf[t] for t, tf in c.items()}
        return v, math.sqrt(sum(x * x for x in v.values()))

    tv, tnorm = vector(counts[0])
    scored: list[tuple[float, str, list[str], Doc, dict[str, float]]] = []
    for cand, cc in zip(cands, counts[1:], strict=True):
        reasons: list[str] = []
        score = 0.0
        for tag in dict.fromkeys(cand.tags):
            if _normalize(tag).strip() in target_tags:
                score += TAG_WEIGHT
                reasons.append(f"tag {tag}")
        for name, value in (fields.get(cand.key) or {}).items():
            value = str(value).strip()
            if value and target_fields.get(name) == value:
                score += FIELD_WEIGHT
                reasons.append(f"field {name}={value}")
        shared: dict[str, float] = {}
        cv, cnorm = vector(cc)
        if tnorm and cnorm:
            shared = {t: tv[t] * cv[t] for t in tv.keys() & cv.keys()}
            cos = sum(shared.values()) / (tnorm * cnorm)
            if cos >= MIN_COSINE:
                score += TEXT_WEIGHT * cos
            else:
                shared = {}
        if score > 0:
            scored.append((round(score, 6), cand.key, reasons, cand, shared))
    scored.sort(key=lambda r: (-r[0], r[1]))
    out = []
    for score, key, reasons, cand, shared in scored[:limit]:
        if shared:
            reasons.append("text: " + " ".join(_common_passages(target, cand, shared)))
        out.append((key, score, reasons))
    return out


def _common_passages(target: Doc, cand: Doc, weights: Mapping[str, float], top: int = 3) -> list[str]:
    """The strongest passages found in both texts: for CJK, the longest substrings (two or more characters)
    of the target that the candidate also holds; for other text, shared words. A passage weighs the sum of
    the ``weights`` of its distinct tokens."""
    other = _join_normalized(_normalize(cand.title), "", _normalize(cand.text))
    found: dict[str, float] = {}
    for source in (target.title, target.text):
        for cjk, run in _runs(_normalize(source)):
            if not cjk:
                if run in weights:
                    found[run] = weights[run]
                continue
            end = 0  # a passage inside the previous one (same start region) adds nothing
            for i in range(len(run) - 1):
                if run[i : i + 2] not in weights or run[i : i + 2] not in other:
                    continue
                j = i + 2
                while j < len(run) and run[i : j + 1] in other:
                    j += 1
                if j <= end:
                    continue
                end = j
                passage = run[i:j]
                found[passage] = sum(weights.get(b, 0.0) for b in _bigrams(passage))
    ranked = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))
    picked: list[str] = []
    covered: set[str] = set()
    for passage, _ in ranked:
        grams = _bigrams(passage) or {passage}
        if len(grams & covered) * 2 > len(grams):
            continue  # mostly a repeat of a passage already shown
        picked.append(passage)
        covered |= grams
        if len(picked) == top:
            break
    return picked


def _bigrams(run: str) -> set[str]:
    return {run[k : k + 2] for k in range(len(run) - 1)} if _CJK_SPLIT.match(run) else set()
