"""Built-in trainables, by the name a recipe's ``trainable:`` gives.

``BUILTIN`` maps each name to its ``module:function``; the driver loads it like any user target
(``trial.adapters.load_target``), so torch/transformers are imported only inside trials.
"""

from __future__ import annotations

#: Built-in trainable names -> ``"module:function"``.
BUILTIN: dict[str, str] = {
    "image_classification": "sweeprunner.trainables.vision:train",
    "text_classification": "sweeprunner.trainables.text:train",
    "toy": "sweeprunner.trainables.toy:train",
}
