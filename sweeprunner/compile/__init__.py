"""SweepSpec -> CompiledSweep: the searcher, scheduler, stopper and resources Ray Tune runs.

Pure functions; Ray objects are built only when a compiled sweep asks for them.
"""

from sweeprunner.compile.compiler import CompiledSweep, compile_sweep, trial_count

__all__ = ["CompiledSweep", "compile_sweep", "trial_count"]
