"""Per-plugin state: the mapping ``step.state_for(self)`` returns, which holds tensors only.

Everything in it is saved in every checkpoint (as safetensors) and restored on resume, so it
takes only what a checkpoint can hold exactly: tensors. A Python number, a list or ``None`` is
refused when it is assigned, with a message saying what to do, instead of being lost at the next
checkpoint (or breaking the resume that reads it back).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import torch

from gancore.errors import PluginError


class PluginState(dict):
    """A plugin's checkpointed state: a ``dict`` of name -> tensor that refuses anything else.

    :param plugin: the plugin's name, for messages.
    :param items: the state to start from (a checkpoint's, on resume); checked like assignments.
    """

    def __init__(self, plugin: str, items: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()):
        super().__init__()
        self.plugin = plugin
        self.update(items)

    def _checked(self, key: Any, value: Any) -> torch.Tensor:
        if not isinstance(key, str):
            raise PluginError(f"plugin {self.plugin!r}: step.state_for(self) is keyed by names (str); got key "
                              f"{key!r} ({type(key).__name__}).")
        if not isinstance(value, torch.Tensor):
            raise PluginError(
                f"plugin {self.plugin!r}: step.state_for(self)[{key!r}] must be a tensor, got "
                f"{type(value).__name__} {value!r:.60}. Checkpoints hold tensors only: store "
                f"torch.tensor(value, device=step.accelerator.device) and read it back with .item().")
        return value

    def __setitem__(self, key: str, value: torch.Tensor) -> None:
        super().__setitem__(key, self._checked(key, value))

    def setdefault(self, key: str, default: Any = None) -> torch.Tensor:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> "PluginState":
        self.update(other)
        return self

    def copy(self) -> "PluginState":
        return PluginState(self.plugin, self)

    def __reduce__(self):  # copy.deepcopy and friends rebuild it through __init__, checked
        return (PluginState, (self.plugin, dict(self)))


def state_in(states: dict[str, dict[str, torch.Tensor]], plugin: str) -> PluginState:
    """``plugin``'s :class:`PluginState` in a run's ``states`` (made, or converted from the plain
    dict a checkpoint was loaded into, on first use)."""
    state = states.get(plugin)
    if not isinstance(state, PluginState):
        state = states[plugin] = PluginState(plugin, state or {})
    return state
