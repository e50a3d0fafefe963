"""Public name of :mod:`sweeprunner.trial.session` (``import sweeprunner.session`` keeps working)."""

import sys

from sweeprunner.trial import session as _module

sys.modules[__name__] = _module
