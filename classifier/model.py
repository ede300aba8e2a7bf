"""Training the scikit-learn pipeline, and the compiled form that classifies.

Training builds a scikit-learn `Pipeline`: a `FeatureUnion` of word 1-2 gram
TF-IDF, character 2-5 gram TF-IDF (within word boundaries) and the rule
layer's tokens, into a `LinearSVC` wrapped in `CalibratedClassifierCV`
(Platt sigmoid, 5 stratified folds, fixed seeds). Beside it three small
logistic regressions on the same features: the exclusion reason, `urgent`
and `advocate`.

Classifying one message through scikit-learn costs milliseconds of input
checking, so the fitted pipeline is *compiled* to plain arrays: the
vocabularies, the idf weights and one coefficient matrix holding every head.
`CompiledModel.score_many` vectorises a whole batch at once (the n-gram
counts of every message sorted together, then one sparse product per block,
with scipy's CSR kernel) and reproduces `predict_proba` (training checks it).
Every sum runs within one message's row, in column order, so a message scores
the same alone or in any batch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import NamedTuple

import numpy as np

from classifier.features import (
    _WORD,
    ModelInput,
    category_rule_features,
    char_features,
    char_ngrams,
    rule_features,
    word_features,
)
from classifier.types import CATEGORIES, EXCLUSION_REASONS

# Words whose character n-grams are kept (then the cache starts again): a few MB.
_WORD_CACHE_MAX = 50_000
_NO_INDEX = np.zeros(0, dtype=np.int64)
SEED = 20240401  # the Code became statutory on 1 April 2024
FORMAT_VERSION = 1
# Block weights and regularisation, chosen by per-source cross-validation on the training split.
WORD_WEIGHT = 1.0
CHAR_WEIGHT = 1.0
CATEGORY_RULE_WEIGHT = 0.3  # exclusion and date cues, read by the category model
RULE_WEIGHT = 0.6  # every rule token, read by the reason, urgent and advocate heads
SVC_C = 1.0
HEAD_C = 4.0


@dataclass
class CompiledModel:
    """Everything `classify` needs, as plain arrays and dicts (no scikit-learn at classify time)."""

    word_vocab: dict[str, int]
    char_vocab: dict[str, int]
    category_rule_vocab: dict[str, int]
    rule_vocab: dict[str, int]
    word_idf: np.ndarray
    char_idf: np.ndarray
    weights: np.ndarray  # (n_features, n_outputs): category | reason | urgent | advocate
    bias: np.ndarray  # (n_outputs,)
    sigmoid_a: np.ndarray  # Platt scaling of the category scores, per category
    sigmoid_b: np.ndarray
    categories: tuple[str, ...] = CATEGORIES
    reasons: tuple[str, ...] = EXCLUSION_REASONS
    metadata: dict = field(default_factory=dict)

    @property
    def n_categories(self) -> int:
        return len(self.categories)

    def __getstate__(self) -> dict:
        # Per-process tables and caches (attributes starting with "_") are not part of the artefact.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def warm(self) -> None:
        """Build the look-up tables now (at load), not on the first message."""
        self._tables()

    def _tables(self) -> _Tables:
        tables = self.__dict__.get("_compiled_tables")
        if tables is None:
            tables = self.__dict__["_compiled_tables"] = _Tables(self)
        return tables

    def score_many(self, docs: Sequence[ModelInput]) -> list[Scored]:
        """Every head's probabilities for a batch of messages, vectorised together.

        Each message's result depends on that message alone (every sum runs over one row, in
        column order), so it is the same whether it is scored alone or in any batch: `classify`
        is `classify_many` of one message.
        """
        n = len(docs)
        if not n:
            return []
        t = self._tables()
        texts = [doc.text for doc in docs]
        words = t.word_rows(texts)
        raw = np.zeros((n, len(self.bias)))
        _add_product(raw, words, t.word_weights)
        _add_product(raw, t.char_rows(texts), t.char_weights)
        _add_product(raw, t.rule_rows(docs), t.rule_weights)
        raw += self.bias
        heads = self._heads_many(raw)
        indptr, indices, data = words
        bounds = indptr.tolist()
        return [
            Scored((indices[start:end], data[start:end]), heads[i])
            for i, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False))
        ]

    def vectorize(self, doc: ModelInput) -> tuple[np.ndarray, np.ndarray]:
        """The message's feature vector, sparse: (column indices, values), every block."""
        t = self._tables()
        n_word, n_char = len(self.word_vocab), len(self.char_vocab)
        blocks = (
            (t.word_rows([doc.text]), 0),
            (t.char_rows([doc.text]), n_word),
            (t.rule_rows([doc]), n_word + n_char),
        )
        idx = np.concatenate([indices.astype(np.int64) + offset for (_, indices, _), offset in blocks])
        values = np.concatenate([data for (_, _, data), _ in blocks])
        return idx, values

    def scores(self, doc: ModelInput) -> dict[str, np.ndarray]:
        """Probabilities of every head for one message."""
        return self.score_many([doc])[0].heads

    def contributions(self, vector: tuple[np.ndarray, np.ndarray], output: int, top: int = 3) -> list[str]:
        """The word features that pushed `output` up the most (for evidence), strongest first."""
        idx, values = vector
        n_word = len(self.word_vocab)
        if not len(idx):
            return []
        if idx[-1] >= n_word:  # a whole feature vector (`vectorize`): its word block comes first
            words = idx < n_word
            idx, values = idx[words], values[words]
            if not len(idx):
                return []
        contrib = values * self.weights[idx, output]
        # Strongest first; on a tie (words that always come together) the two-word feature, which
        # reads better as evidence, then the earlier column: the same order in any batch.
        order = np.lexsort((idx, -self._tables().gram_words[idx], -contrib))[:top]
        inverse = self.__dict__.get("_inverse")
        if inverse is None:
            inverse = self.__dict__["_inverse"] = {i: g for g, i in self.word_vocab.items()}
        return [
            inverse[i] for i, c in zip(idx[order].tolist(), contrib[order].tolist(), strict=True) if c > 0
        ]

    def _heads_many(self, raw: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Calibrated category probabilities, reason softmax and the two flags, row by row."""
        k, r = self.n_categories, len(self.reasons)
        category = 1.0 / (1.0 + np.exp(self.sigmoid_a * raw[:, :k] + self.sigmoid_b))
        total = category.sum(axis=1, keepdims=True)
        category = np.divide(category, total, out=np.full_like(category, 1.0 / k), where=total > 0)
        reason_raw = raw[:, k : k + r]
        reason = np.exp(reason_raw - reason_raw.max(axis=1, keepdims=True))
        reason /= reason.sum(axis=1, keepdims=True)
        flags = np.array(
            [
                (1.0 / (1.0 + math.exp(-u)), 1.0 / (1.0 + math.exp(-a)))
                for u, a in raw[:, k + r : k + r + 2].tolist()
            ]
        ).reshape(-1, 2)
        return [
            {
                "category": category[i],
                "reason": reason[i],
                "urgent": flags[i, 0:1],
                "advocate": flags[i, 1:2],
            }
            for i in range(raw.shape[0])
        ]


class Scored(NamedTuple):
    """One message's scores: its word features (for evidence) and every head's probabilities."""

    vector: tuple[np.ndarray, np.ndarray]  # word columns and their weighted tf-idf values
    heads: dict[str, np.ndarray]


Rows = tuple[np.ndarray, np.ndarray, np.ndarray]  # a batch's sparse rows: (indptr, columns, values)

try:  # the kernel behind scipy's `csr_matrix @ ndarray`, without building a matrix per batch
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
except ImportError:  # pragma: no cover - a scipy without it: the same sums through the public API
    _csr_matvecs = None


def _add_product(out: np.ndarray, rows: Rows, weights: np.ndarray) -> None:
    """out += rows @ weights. Each output row sums its own entries in order, whatever the batch."""
    indptr, indices, data = rows
    n_rows, n_cols = len(indptr) - 1, weights.shape[0]
    if _csr_matvecs is not None:
        _csr_matvecs(n_rows, n_cols, weights.shape[1], indptr, indices, data, weights.ravel(), out.ravel())
    else:  # pragma: no cover
        import scipy.sparse as sp

        out += sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols)) @ weights


def _tfidf_rows(rows: np.ndarray, cols: np.ndarray, n_rows: int, idf: np.ndarray, weight: float) -> Rows:
    """Count (row, column) pairs, then sublinear tf times idf, l2-normalised per row and weighted:
    what TfidfVectorizer and FeatureUnion do, for a whole batch at once. Rows come out with their
    columns sorted, so every sum over a row runs in the same order whatever else is in the batch."""
    n_cols = len(idf)
    # One sortable key per pair; 32-bit when it fits, which sorts faster.
    key_type = np.int32 if n_rows * n_cols < 2**31 else np.int64
    keys = rows.astype(key_type) * key_type(n_cols) + cols.astype(key_type, copy=False)
    keys.sort()
    if len(keys):
        first = np.empty(len(keys), dtype=bool)
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        counts = np.diff(np.append(starts, len(keys)))
        keys = keys[starts]
    else:
        counts = keys
    row = keys // n_cols
    col = (keys - row * n_cols).astype(np.int64)
    values = np.log(counts.astype(np.float64))
    values += 1.0
    values *= idf[col]
    squares = np.bincount(row, weights=values * values, minlength=n_rows)
    scale = np.zeros(n_rows)
    np.divide(weight, np.sqrt(squares), out=scale, where=squares > 0)
    values *= scale[row]
    indptr = np.searchsorted(row, np.arange(n_rows + 1)).astype(np.int64)
    return indptr, col, values


class _Tables:
    """The compiled model as look-up arrays for batch vectorising (built once per process)."""

    def __init__(self, model: CompiledModel):
        n_word, n_char = len(model.word_vocab), len(model.char_vocab)
        n_cat = len(model.category_rule_vocab)
        self.model = model
        # Words: every word of the vocabulary (alone or in a bigram) gets a token id.
        tokens: dict[str, int] = {}
        unigrams: list[tuple[int, int]] = []
        bigrams: list[tuple[int, int, int]] = []
        for gram, col in model.word_vocab.items():
            parts = gram.split(" ")
            ids = [tokens.setdefault(p, len(tokens)) for p in parts]
            if len(ids) == 1:
                unigrams.append((ids[0], col))
            elif len(ids) == 2:
                bigrams.append((ids[0], ids[1], col))
        self.tokens = tokens
        self.gram_words = np.ones(n_word, dtype=np.int64)  # 1 or 2: the words in each word feature
        for _, _, col in bigrams:
            self.gram_words[col] = 2
        n_tokens = self.n_tokens = max(len(tokens), 1)
        self.unigram_col = np.full(len(tokens) + 1, -1, dtype=np.int64)  # the last entry: unknown words
        for token, col in unigrams:
            self.unigram_col[token] = col
        keys = np.array([a * n_tokens + b for a, b, _ in bigrams], dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        self.bigram_keys = keys[order]
        self.bigram_cols = np.array([c for _, _, c in bigrams], dtype=np.int64)[order]
        # Characters: each word's in-vocabulary n-grams, cached (words repeat far more than texts).
        self.char_cache: dict[str, bytes] = {}
        # Rules: the category model's tokens, then every rule token for the heads.
        self.rule_cols = {t: [(i, CATEGORY_RULE_WEIGHT)] for t, i in model.category_rule_vocab.items()}
        for t, i in model.rule_vocab.items():
            self.rule_cols.setdefault(t, []).append((n_cat + i, RULE_WEIGHT))
        self.n_rule_cols = n_cat + len(model.rule_vocab)
        weights = model.weights
        self.word_weights = weights[:n_word]
        self.char_weights = weights[n_word : n_word + n_char]
        self.rule_weights = weights[n_word + n_char :]

    def word_rows(self, texts: list[str]) -> Rows:
        """Word 1-2 gram tf-idf rows (what `word_features` counts)."""
        get = self.tokens.get
        ids: list[int] = []
        lengths: list[int] = []
        for text in texts:
            words = _WORD.findall(text)
            ids.extend(map(get, words, repeat(-1)))
            ids.append(-1)  # no bigram across two messages
            lengths.append(len(words) + 1)
        token = np.array(ids, dtype=np.int64)
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        unigram = self.unigram_col[token]
        known = unigram >= 0
        cols, where = [unigram[known]], [rows[known]]
        if len(self.bigram_keys):
            first, second = token[:-1], token[1:]
            pair = (first >= 0) & (second >= 0)
            keys = first[pair] * self.n_tokens + second[pair]
            at = np.searchsorted(self.bigram_keys, keys)
            np.minimum(at, len(self.bigram_keys) - 1, out=at)
            hit = self.bigram_keys[at] == keys
            cols.append(self.bigram_cols[at[hit]])
            where.append(rows[:-1][pair][hit])
        model = self.model
        return _tfidf_rows(
            np.concatenate(where), np.concatenate(cols), len(texts), model.word_idf, WORD_WEIGHT
        )

    def _char_cols(self, word: str) -> bytes:
        found = map(self.model.char_vocab.get, char_ngrams(word))
        cols = np.array([i for i in found if i is not None], dtype=np.int32)
        cache = self.char_cache
        if len(cache) >= _WORD_CACHE_MAX:
            cache.clear()  # bounded: a long-running worker sees ever more rare words
        cache[word] = packed = cols.tobytes()
        return packed

    def char_rows(self, texts: list[str]) -> Rows:
        """Character 2-5 gram tf-idf rows (what `char_features` counts)."""
        get = self.char_cache.get
        blobs: list[bytes] = []
        for text in texts:
            words = text.split()
            # Each word's columns are cached as packed int32 bytes: joining them is one C call.
            parts = list(map(get, words))
            if None in parts:
                parts = [
                    p if p is not None else self._char_cols(w) for p, w in zip(parts, words, strict=True)
                ]
            blobs.append(b"".join(parts))
        n = len(texts)
        sizes = np.fromiter(map(len, blobs), dtype=np.int64, count=n) // 4
        rows = np.repeat(np.arange(n, dtype=np.int64), sizes)
        cols = np.frombuffer(b"".join(blobs), dtype=np.int32)
        return _tfidf_rows(rows, cols, n, self.model.char_idf, CHAR_WEIGHT)

    def rule_rows(self, docs: Sequence[ModelInput]) -> Rows:
        """The rule tokens, binary and weighted: the category model's first, then the heads'."""
        get = self.rule_cols.get
        cols: list[int] = []
        values: list[float] = []
        ends = [0]
        for doc in docs:
            for token in doc.rule_tokens:
                for col, value in get(token, ()):
                    cols.append(col)
                    values.append(value)
            ends.append(len(cols))
        return (
            np.array(ends, dtype=np.int64),
            np.array(cols, dtype=np.int64),
            np.array(values, dtype=np.float64),
        )


# ---------------------------------------------------------------------------
# Training (scikit-learn is imported only here)
# ---------------------------------------------------------------------------


def build_pipeline():
    """The scikit-learn pipeline for the category, unfitted."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(analyzer=word_features, sublinear_tf=True, min_df=2, lowercase=False)),
            ("chars", TfidfVectorizer(analyzer=char_features, sublinear_tf=True, min_df=2, lowercase=False)),
            ("rules", CountVectorizer(analyzer=category_rule_features, binary=True, lowercase=False)),
        ],
        transformer_weights={"words": WORD_WEIGHT, "chars": CHAR_WEIGHT, "rules": CATEGORY_RULE_WEIGHT},
    )
    svc = LinearSVC(C=SVC_C, class_weight="balanced", random_state=SEED, max_iter=5000)
    calibrated = CalibratedClassifierCV(
        svc, method="sigmoid", cv=StratifiedKFold(5, shuffle=True, random_state=SEED), ensemble=False
    )
    return Pipeline([("features", features), ("classifier", calibrated)])


def _logistic(class_weight=None):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=HEAD_C, max_iter=3000, class_weight=class_weight, random_state=SEED)


def _rule_vectorizer():
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(analyzer=rule_features, binary=True, lowercase=False)


@dataclass
class TrainedModels:
    pipeline: object
    rules: object  # every rule token, for the heads
    reason: object
    urgent: object
    advocate: object


def fit(docs: list[ModelInput], categories: list[str], reasons: list[str | None], urgent: list[bool],
        advocate: list[bool]) -> TrainedModels:  # fmt: skip
    """Fit the pipeline and the three heads on prepared inputs. Deterministic for the same inputs."""
    pipeline = build_pipeline()
    import scipy.sparse as sp

    pipeline.fit(docs, categories)
    rules = _rule_vectorizer()
    X = sp.hstack(
        [pipeline.named_steps["features"].transform(docs), rules.fit_transform(docs) * RULE_WEIGHT]
    ).tocsr()
    excluded = [i for i, r in enumerate(reasons) if r]
    reason_model = _logistic(class_weight="balanced")
    reason_labels = [reasons[i] for i in excluded]
    present = sorted(set(reason_labels))
    if len(present) >= 2:
        reason_model.fit(X[excluded], reason_labels)
    else:
        reason_model = None
    urgent_model = _logistic(class_weight="balanced").fit(X, urgent) if len(set(urgent)) == 2 else None
    advocate_model = _logistic(class_weight="balanced").fit(X, advocate) if len(set(advocate)) == 2 else None
    return TrainedModels(pipeline, rules, reason_model, urgent_model, advocate_model)


def compile_models(models: TrainedModels, metadata: dict) -> CompiledModel:
    """Flatten the fitted models into one coefficient matrix and plain vocabularies."""
    features = models.pipeline.named_steps["features"]
    words, chars, category_rules = (features.transformer_list[i][1] for i in range(3))
    rules = models.rules
    n_category_features = len(words.vocabulary_) + len(chars.vocabulary_) + len(category_rules.vocabulary_)
    n_features = n_category_features + len(rules.vocabulary_)
    calibrated = models.pipeline.named_steps["classifier"]
    (cc,) = calibrated.calibrated_classifiers_
    svc = cc.estimator
    class_order = list(calibrated.classes_)
    k, r = len(CATEGORIES), len(EXCLUSION_REASONS)
    weights = np.zeros((n_features, k + r + 2))
    bias = np.zeros(k + r + 2)
    sig_a = np.zeros(k)
    sig_b = np.full(k, 50.0)  # a category never seen in training gets probability ~0
    for j, label in enumerate(class_order):
        col = CATEGORIES.index(label)
        coef = svc.coef_[j] if len(class_order) > 2 else (svc.coef_[0] if j == 1 else -svc.coef_[0])
        weights[:n_category_features, col] = coef
        bias[col] = (
            svc.intercept_[j]
            if len(class_order) > 2
            else (svc.intercept_[0] if j == 1 else -svc.intercept_[0])
        )
        sig_a[col] = cc.calibrators[j].a_
        sig_b[col] = cc.calibrators[j].b_
    if models.reason is not None:
        coef = models.reason.coef_
        for j, label in enumerate(models.reason.classes_):
            col = k + EXCLUSION_REASONS.index(label)
            if coef.shape[0] == 1:  # binary: sklearn keeps one row for classes_[1]
                weights[:, col] = coef[0] * (1 if j == 1 else 0)
                bias[col] = models.reason.intercept_[0] * (1 if j == 1 else 0)
            else:
                weights[:, col] = coef[j]
                bias[col] = models.reason.intercept_[j]
        missing = [c for c in range(k, k + r) if EXCLUSION_REASONS[c - k] not in models.reason.classes_]
        bias[missing] = -50.0
    else:
        bias[k : k + r] = 0.0
    for offset, head in ((k + r, models.urgent), (k + r + 1, models.advocate)):
        if head is not None:
            weights[:, offset] = head.coef_[0]
            bias[offset] = head.intercept_[0]
        else:
            bias[offset] = -50.0
    return CompiledModel(
        word_vocab={g: int(i) for g, i in words.vocabulary_.items()},
        char_vocab={g: int(i) for g, i in chars.vocabulary_.items()},
        category_rule_vocab={g: int(i) for g, i in category_rules.vocabulary_.items()},
        rule_vocab={g: int(i) for g, i in rules.vocabulary_.items()},
        word_idf=words.idf_.astype(np.float64),
        char_idf=chars.idf_.astype(np.float64),
        weights=np.ascontiguousarray(weights),
        bias=bias,
        sigmoid_a=sig_a,
        sigmoid_b=sig_b,
        metadata=metadata,
    )


def check_compiled(
    models: TrainedModels, compiled: CompiledModel, docs: list[ModelInput], limit: int = 200
) -> float:
    """Largest difference between scikit-learn's and the compiled model's category probabilities."""
    sample = docs[:limit]
    expected = models.pipeline.predict_proba(sample)
    order = [CATEGORIES.index(c) for c in models.pipeline.classes_]
    worst = 0.0
    for row, doc in zip(expected, sample, strict=True):
        got = compiled.scores(doc)["category"][order]
        worst = max(worst, float(np.max(np.abs(got - row))))
    return worst


def timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
