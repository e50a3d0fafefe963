"""optuna_integration's BoTorchSampler set up like sweeprunner's bayes default, for the bench only.

``BoTorchSampler(n_startup_trials=k)`` counts completed *and running* trials towards its start-up,
so with 8 or 16 in flight its first model would be fitted on 0 completed trials. Here the start-up
counts completed trials, as Optuna's GPSampler (sweeprunner's default) does: the first ``startup``
completed trials' worth of suggestions come from the Sobol sequence (``QuasiRandomStartSampler``, as measured).
With ``consider_running_trials=True`` and no ``candidates_func``, optuna-integration 5.0.0 uses
``qei_candidates_func``: SingleTaskGP + qExpectedImprovement with the running trials as
``X_pending``; ``candidates="qlogei"`` uses ``qlogei_candidates_func`` (qLogExpectedImprovement,
same ``X_pending``); ``candidates="qlognei"`` is :func:`qlognei_candidates_func` below
(qLogNoisyExpectedImprovement, same model, optimiser settings and ``X_pending``; optuna-integration
has no qLogNEI function).
"""

from __future__ import annotations

from typing import Any

from optuna.trial import TrialState
from optuna_integration import BoTorchSampler
from optuna_integration.botorch import qei_candidates_func, qlogei_candidates_func

from sweeprunner.compile.bayes import QuasiRandomStartSampler


def qlognei_candidates_func(train_x: Any, train_obj: Any, train_con: Any, bounds: Any, pending_x: Any) -> Any:
    """optuna-integration's ``qnei_candidates_func`` (unconstrained) with qLogNoisyExpectedImprovement."""
    import torch
    from botorch.acquisition.logei import qLogNoisyExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.optim import optimize_acqf
    from botorch.sampling import SobolQMCNormalSampler
    from botorch.utils.transforms import normalize, unnormalize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    assert train_con is None and train_obj.size(-1) == 1
    train_x = normalize(train_x, bounds=bounds)
    if pending_x is not None:
        pending_x = normalize(pending_x, bounds=bounds)
    model = SingleTaskGP(train_x, train_obj, outcome_transform=Standardize(m=1))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    acqf = qLogNoisyExpectedImprovement(model=model, X_baseline=train_x,
                                        sampler=SobolQMCNormalSampler(torch.Size((256,))), X_pending=pending_x)
    standard_bounds = torch.zeros_like(bounds)
    standard_bounds[1] = 1
    candidates, _ = optimize_acqf(acq_function=acqf, bounds=standard_bounds, q=1, num_restarts=10, raw_samples=512,
                                  options={"batch_limit": 5, "maxiter": 200}, sequential=True)
    return unnormalize(candidates.detach(), bounds=bounds)


CANDIDATES = {"default": None, "qei": qei_candidates_func, "qlogei": qlogei_candidates_func,
              "qlognei": qlognei_candidates_func}


class CompletedStartupBoTorchSampler(BoTorchSampler):
    def __init__(self, *, startup: int, **kwargs: Any) -> None:
        super().__init__(n_startup_trials=startup, **kwargs)
        self.startup = startup

    def sample_relative(self, study: Any, trial: Any, search_space: dict) -> dict[str, Any]:
        if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < self.startup:
            return {}
        return super().sample_relative(study, trial, search_space)


def botorch_sampler(seed: int | None, dims: int, startup: int = 5, candidates: str = "default") -> BoTorchSampler:
    return CompletedStartupBoTorchSampler(startup=startup, seed=seed, consider_running_trials=True,
                                          independent_sampler=QuasiRandomStartSampler(dims, seed, "sobol"),
                                          candidates_func=CANDIDATES[candidates])
