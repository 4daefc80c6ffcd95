"""Open-set evaluation: identify known people, reject unknown ones, and pick a threshold."""

import numpy as np

from .matching import pairwise_distances


def leave_one_out(embeddings: np.ndarray, identities: list[str], metric: str) -> dict[str, np.ndarray]:
    """Each face as a query against all the others, and again with its own person removed.

    Returns:
        known_distance/known_correct: nearest other face and whether it is the same person
        (only for people with two or more faces); unknown_distance: nearest face of anyone else,
        i.e. the query of a person the gallery does not hold.
    """
    identities = np.asarray(identities)
    distances = pairwise_distances(embeddings, embeddings, metric)
    np.fill_diagonal(distances, np.inf)
    counts = {name: int((identities == name).sum()) for name in set(identities.tolist())}
    has_pair = np.array([counts[name] > 1 for name in identities])
    nearest = distances.argmin(axis=1)
    others = np.where(identities[:, None] == identities[None, :], np.inf, distances)
    return {
        "known_distance": distances.min(axis=1)[has_pair],
        "known_correct": (identities[nearest] == identities)[has_pair],
        "unknown_distance": others.min(axis=1),
    }


def scores_at(trials: dict[str, np.ndarray], threshold: float) -> dict[str, float]:
    """Accuracy of identification and of rejecting unknown people when matches must be <= threshold."""
    known_ok = (trials["known_distance"] <= threshold) & trials["known_correct"]
    known_rejected = int((trials["known_distance"] > threshold).sum())
    unknown_rejected = int((trials["unknown_distance"] > threshold).sum())
    rejected = known_rejected + unknown_rejected
    total = len(trials["known_distance"]) + len(trials["unknown_distance"])
    return {
        "threshold": float(threshold),
        "open_set_accuracy": (int(known_ok.sum()) + unknown_rejected) / total,
        "known_identified": float(known_ok.mean()) if len(known_ok) else float("nan"),
        "rejection_precision": unknown_rejected / rejected if rejected else float("nan"),
        "rejection_recall": unknown_rejected / len(trials["unknown_distance"]),
    }


def suggest_threshold(trials: dict[str, np.ndarray]) -> dict[str, float]:
    """The threshold with the best open-set accuracy: the middle one when several tie."""
    values = np.unique(np.concatenate([trials["known_distance"], trials["unknown_distance"]]))
    values = values[np.isfinite(values)]
    candidates = np.concatenate([values[:1] / 2, (values[:-1] + values[1:]) / 2, values[-1:] * 1.01])
    scores = [scores_at(trials, t) for t in candidates]
    best = max(s["open_set_accuracy"] for s in scores)
    tied = [s for s in scores if s["open_set_accuracy"] == best]
    return tied[len(tied) // 2]
