"""The sweep screens: the form, the progress of a running sweep, the results table.

The form opens with `W` in the explorer; the table has one row per cell and Enter opens
Compare on the cell's samples.
"""

from grove_explorer.app.screens.sweep.form import SweepFormScreen, SweepRequest
from grove_explorer.app.screens.sweep.running import SweepRunScreen
from grove_explorer.app.screens.sweep.table import SweepTableScreen

__all__ = ["SweepFormScreen", "SweepRequest", "SweepRunScreen", "SweepTableScreen"]
