"""Checkpoint state as JSON (no pickle: loading a checkpoint never runs code)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np
from clinfair.trainers.advantage.clustering import VectorHistory
from clinfair.trainers.advantage.config import FairAdvantageConfig
from clinfair.trainers.advantage.scaler import FairAdvantageScaler
from clinfair.trainers.advantage.weights import GroupDROWeights

from clinfair.core.errors import ClinfairError

#: Version of the layout :func:`advantage_state_to_json` writes; bump it when the layout changes.
ADVANTAGE_STATE_VERSION = 1


class AdvantageStateError(ClinfairError, ValueError):
    """A saved advantage state that cannot be loaded (unknown version or kind, damaged)."""


def advantage_state_to_json(state: FairAdvantageScaler | GroupDROWeights) -> dict[str, Any]:
    """The complete state of a scaler or of group-DRO weights as a JSON-able document.

    Floats are written as JSON numbers (Python's shortest repr, read back exactly; NaN and
    infinities as ``NaN``/``Infinity``); the random generator as numpy's bit-generator state.
    ``advantage_state_from_json(json.loads(json.dumps(doc)))`` continues exactly where ``state``
    stopped.
    """
    if isinstance(state, FairAdvantageScaler):
        body: dict[str, Any] = {
            "config": {f.name: getattr(state.config, f.name) for f in fields(state.config)},
            "step": state.step,
            "rng": state._rng.bit_generator.state,
            "domain_sums": [[d, v.tolist()] for d, v in state._domain_sums.items()],
            "group_sums": [[d, g, v.tolist()] for (d, g), v in state._group_sums.items()],
            "histories": [
                [d, h.max_size, None if h.vectors is None else h.vectors.tolist(), h.weights.tolist()]
                for d, h in state._histories.items()
            ],
            "last_stats": state.last_stats,
        }
    elif isinstance(state, GroupDROWeights):
        if not all(isinstance(g, str) for g in state._log_q):
            raise AdvantageStateError("group-DRO weights are saved for text group keys only")
        body = {"eta": state.eta, "log_q": [[g, v] for g, v in state._log_q.items()]}
    else:
        raise AdvantageStateError(f"cannot save the state of a {type(state).__name__}")
    return {"version": ADVANTAGE_STATE_VERSION, "kind": type(state).__name__, "state": body}


def advantage_state_from_json(document: Any) -> FairAdvantageScaler | GroupDROWeights:
    """Rebuild what :func:`advantage_state_to_json` saved; an unknown version or kind is an error."""
    if not isinstance(document, dict) or "version" not in document:
        raise AdvantageStateError("not a clinfair advantage state (no version)")
    version = document["version"]
    if version != ADVANTAGE_STATE_VERSION:
        raise AdvantageStateError(
            f"advantage state version {version!r} is unknown to this clinfair (it reads version "
            f"{ADVANTAGE_STATE_VERSION}); resume with the clinfair that saved it"
        )
    kind, body = document.get("kind"), document.get("state")
    try:
        if kind == "FairAdvantageScaler":
            scaler = FairAdvantageScaler(FairAdvantageConfig(**body["config"]))
            scaler.step = int(body["step"])
            scaler._rng.bit_generator.state = body["rng"]
            scaler._domain_sums = {d: np.asarray(v, dtype=np.float64) for d, v in body["domain_sums"]}
            scaler._group_sums = {(d, g): np.asarray(v, dtype=np.float64) for d, g, v in body["group_sums"]}
            for d, max_size, vectors, weights in body["histories"]:
                history = VectorHistory(max_size, scaler._rng)  # shares the scaler's generator, as when built
                history.vectors = None if vectors is None else np.asarray(vectors, dtype=np.float64)
                history.weights = np.asarray(weights, dtype=np.float64)
                scaler._histories[d] = history
            scaler.last_stats = body["last_stats"]
            return scaler
        if kind == "GroupDROWeights":
            weights = GroupDROWeights(body["eta"])
            weights._log_q = {g: float(v) for g, v in body["log_q"]}
            return weights
    except (KeyError, TypeError, ValueError) as error:
        raise AdvantageStateError(f"damaged {kind} state ({type(error).__name__}: {error})") from None
    raise AdvantageStateError(f"unknown advantage state kind {kind!r}")
