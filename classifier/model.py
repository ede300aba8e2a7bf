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
`CompiledModel.scores` reproduces `predict_proba` exactly (training checks
it), needs only numpy, and takes tens of microseconds.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from classifier.features import (
    ModelInput,
    category_rule_features,
    char_features,
    rule_features,
    word_char_ngrams,
    word_features,
)
from classifier.types import CATEGORIES, EXCLUSION_REASONS

_WORD_CACHE_MAX = 100_000
_NO_INDEX = np.zeros(0, dtype=np.int64)
_NO_VALUE = np.zeros(0, dtype=np.float64)
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
        state = dict(self.__dict__)
        state.pop("_word_cache", None)  # per-process caches are not part of the artefact
        state.pop("_inverse", None)
        return state

    @staticmethod
    def _tfidf(
        counts: dict[int, int], idf: np.ndarray, offset: int, weight: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sublinear tf times idf, l2-normalised and weighted: what TfidfVectorizer and FeatureUnion do."""
        n = len(counts)
        if not n:
            return _NO_INDEX, _NO_VALUE
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=n)
        values = np.log(np.fromiter(counts.values(), dtype=np.float64, count=n))
        values += 1.0
        values *= idf[idx]
        values *= weight / math.sqrt(float(values @ values))
        if offset:
            idx += offset
        return idx, values

    def _char_indices(self, word: str) -> list[int]:
        """The in-vocabulary character n-grams of one word, cached: words repeat far more than texts."""
        cache = self.__dict__.setdefault("_word_cache", {})
        ids = cache.get(word)
        if ids is None:
            vocab = self.char_vocab
            ids = [i for g in word_char_ngrams(word) if (i := vocab.get(g)) is not None]
            if len(cache) < _WORD_CACHE_MAX:
                cache[word] = ids
        return ids

    def vectorize(self, doc: ModelInput) -> tuple[np.ndarray, np.ndarray]:
        """The message's feature vector, sparse: (column indices, values)."""
        n_word, n_char, n_cat = len(self.word_vocab), len(self.char_vocab), len(self.category_rule_vocab)
        get = self.word_vocab.get
        word_counts = {i: c for g, c in Counter(word_features(doc)).items() if (i := get(g)) is not None}
        wi, wv = self._tfidf(word_counts, self.word_idf, 0, WORD_WEIGHT)
        char_ids: list[int] = []
        cache_get = self.__dict__.setdefault("_word_cache", {}).get
        for word in doc.text.split():
            ids = cache_get(word)
            char_ids += ids if ids is not None else self._char_indices(word)
        ci, cv = self._tfidf(Counter(char_ids), self.char_idf, n_word, CHAR_WEIGHT)
        offset = n_word + n_char
        rules = [
            offset + i
            for t in category_rule_features(doc)
            if (i := self.category_rule_vocab.get(t)) is not None
        ]
        n_category_rules = len(rules)
        offset += n_cat
        rules += [offset + i for t in rule_features(doc) if (i := self.rule_vocab.get(t)) is not None]
        rule_values = [CATEGORY_RULE_WEIGHT] * n_category_rules + [RULE_WEIGHT] * (
            len(rules) - n_category_rules
        )
        idx = np.concatenate((wi, ci, np.array(rules, dtype=np.int64)))
        values = np.concatenate((wv, cv, np.array(rule_values, dtype=np.float64)))
        return idx, values

    def scores(
        self, doc: ModelInput, vector: tuple[np.ndarray, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """Probabilities of every head for one message."""
        idx, values = vector if vector is not None else self.vectorize(doc)
        raw = values @ self.weights[idx] + self.bias if len(idx) else self.bias.copy()
        return self._heads(raw)

    def contributions(self, vector: tuple[np.ndarray, np.ndarray], output: int, top: int = 3) -> list[str]:
        """The word features that pushed `output` up the most (for evidence), strongest first."""
        idx, values = vector
        n_word = len(self.word_vocab)
        words = idx < n_word
        if not words.any():
            return []
        idx, values = idx[words], values[words]
        contrib = values * self.weights[idx, output]
        order = np.argsort(-contrib)[:top]
        inverse = self.__dict__.get("_inverse")
        if inverse is None:
            inverse = self.__dict__["_inverse"] = {i: g for g, i in self.word_vocab.items()}
        return [inverse[int(idx[k])] for k in order if contrib[k] > 0]

    def _heads(self, raw: np.ndarray) -> dict[str, np.ndarray]:
        k, r = self.n_categories, len(self.reasons)
        category = 1.0 / (1.0 + np.exp(self.sigmoid_a * raw[:k] + self.sigmoid_b))
        total = category.sum()
        category = category / total if total > 0 else np.full(k, 1.0 / k)
        reason_raw = raw[k : k + r]
        reason = np.exp(reason_raw - reason_raw.max())
        reason /= reason.sum()
        urgent = 1.0 / (1.0 + math.exp(-raw[k + r]))
        advocate = 1.0 / (1.0 + math.exp(-raw[k + r + 1]))
        return {
            "category": category,
            "reason": reason,
            "urgent": np.array([urgent]),
            "advocate": np.array([advocate]),
        }


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
