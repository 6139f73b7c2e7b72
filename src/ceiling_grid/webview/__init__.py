"""The ceiling-plan view inside the Airflow UI (an Airflow 3 plugin): published runs, their plans and files.

:mod:`ceiling_grid.published` finds runs under the output root, :mod:`.view` and :mod:`.pages` make their data and
HTML, :mod:`.app` serves them behind Airflow's auth, :mod:`.plugin` registers it all with Airflow.
"""

from ..published import RunCatalog, RunFolder, valid_run_id
from .view import run_data, run_list_entry

__all__ = ["RunCatalog", "RunFolder", "run_data", "run_list_entry", "valid_run_id"]
