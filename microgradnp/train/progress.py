"""What `fit` shows while it trains: a tqdm bar on a terminal, one plain line per epoch
otherwise (or without tqdm), or nothing."""

from __future__ import annotations

import time
from typing import TextIO

_REFRESH_S = 0.1  # recompute the bar's running metrics at most this often
# No rate and a fixed-width bar, so the running numbers fit on one line of a terminal.
_BAR_FORMAT = "{desc} |{bar:12}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
_SHORT = {"accuracy": "acc", "precision": "prec", "recall": "rec"}


class _Progress:
    """Per-epoch output: a tqdm bar on a terminal, a plain line per epoch when the stream is
    not a terminal (or without tqdm), or nothing (`progress=False`)."""

    def __init__(self, progress: bool | None, epochs: int, stream: TextIO) -> None:
        self.epochs, self.stream, self.bar, self.plain = epochs, stream, None, False
        if progress is None:
            isatty = getattr(stream, "isatty", None)
            progress = bool(isatty and isatty())
            self.plain = not progress  # a log file or a pipe: one line per epoch
        self.enabled = bool(progress)
        self._tqdm = None
        if self.enabled:
            try:
                from tqdm import tqdm  # the optional `train` extra
            except ImportError:
                self.plain = True
            else:
                self._tqdm = tqdm

    def start(self, epoch: int, total: int | None) -> None:
        self.t0 = self.last = time.perf_counter()
        if self._tqdm is not None:
            width = len(str(self.epochs))
            self.bar = self._tqdm(
                total=total,
                desc=f"Epoch {epoch + 1:>{width}}/{self.epochs}",
                file=self.stream,
                leave=True,
                dynamic_ncols=True,
                bar_format=_BAR_FORMAT,
            )

    def due(self) -> bool:
        """Whether the bar will redraw now (so running metrics are worth computing)."""
        return self.bar is not None and time.perf_counter() - self.last >= _REFRESH_S

    def update(self, postfix: dict[str, float] | None) -> None:
        if self.bar is not None:
            if postfix is not None:
                self.last = time.perf_counter()
                self.bar.set_postfix_str(_bar_text(postfix), refresh=False)
            self.bar.update(1)

    def end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(_bar_text(logs), refresh=False)
            self.bar.close()
            self.bar = None
        elif self.plain:
            parts = " - ".join(f"{k} {v:.4g}" for k, v in logs.items() if k != "lr")
            print(
                f"Epoch {epoch + 1}/{self.epochs} - {parts} "
                f"({time.perf_counter() - self.t0:.2f} s)",
                file=self.stream,
                flush=True,
            )


def _bar_text(logs: dict[str, float]) -> str:
    """Compact `name value` pairs for the bar, e.g. "loss 0.2360 acc 0.9720"."""
    parts = []
    for key, value in logs.items():
        if key != "lr":
            prefix, name = ("val_", key[4:]) if key.startswith("val_") else ("", key)
            parts.append(f"{prefix}{_SHORT.get(name, name)} {value:.4f}")
    return " ".join(parts)
