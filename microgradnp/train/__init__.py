"""A ready-made training loop: `fit`, its `History`, callbacks such as `EarlyStopping`.

`fit` runs the loop that users otherwise write by hand (forward, loss, `zero_grad`,
`backward`, `step`), then evaluates on a validation loader in `eval()` mode under
`mg.no_grad()`, steps a learning-rate scheduler once per epoch (or per batch) and asks each
callback whether to stop. A `tqdm` bar (the optional `train` extra) shows the running loss and
metrics on a terminal; elsewhere (a log file, a pipe) `fit` prints one line per epoch.
Metrics come from `microgradnp.metrics`; plots of a `History` from `microgradnp.plots`.
Modules: `loop` (`fit`), `history` (`History`, metric names), `callbacks`, `progress` (bar
and per-epoch lines), `tensorboard` (event files for TensorBoard).
"""

from .callbacks import Callback, EarlyStopping
from .history import History, resolve_metric
from .loop import fit
from .tensorboard import TensorBoard

__all__ = ["Callback", "EarlyStopping", "History", "TensorBoard", "fit", "resolve_metric"]
