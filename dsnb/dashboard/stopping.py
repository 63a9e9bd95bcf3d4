"""How the dashboard's Stop interrupts work in progress within a fraction of a second.

A training step on the nano preset takes seconds (minutes of them on a busy CPU), a
mini-evaluation longer. Waiting for the end of either made Stop feel dead. Instead, while the
thread works, a forward pre-hook on the model's input embeddings (every forward pass, in
generation and scoring alike, starts there) raises :class:`StepInterrupted` as soon as Stop was
pressed. Nothing is lost by abandoning a step there: all forward passes of a step come before
its optimizer update, so the weights, the optimizer and the logs are still those of the last
finished step. Only the prompt order has moved on, and :func:`prompt_state` /
:func:`restore_prompt_state` put it back, so a re-opened run continues exactly where an
uninterrupted one would. (Only the backward pass and the optimizer update of a step, which
run no forward pass, cannot be interrupted: Stop then waits for them.) Used by
``dsnb.dashboard.run`` and ``dsnb.dashboard.minieval``.
"""

from __future__ import annotations

import contextlib


class StepInterrupted(Exception):
    """Raised inside a forward pass once Stop was pressed: the work in progress is abandoned."""


@contextlib.contextmanager
def interruptible(policy, stopped):
    """Within the block, each forward pass of `policy` first checks ``stopped()`` and raises
    :class:`StepInterrupted` if it is true. The hook is removed on leaving the block."""

    def check(module, args):
        if stopped():
            raise StepInterrupted

    handle = policy.model.get_input_embeddings().register_forward_pre_hook(check)
    try:
        yield
    finally:
        handle.remove()


def prompt_state(trainer):
    """What a step changes before its update: the trainer's prompt queue and its shuffling RNG
    (``Trainer._next_problems`` takes B prompts and reshuffles at an epoch's end)."""
    return list(trainer._order), trainer._rng.getstate()


def restore_prompt_state(trainer, state) -> None:
    """Undo an abandoned step's draw of prompts, and drop its partial gradients."""
    trainer._order, rng = list(state[0]), state[1]
    trainer._rng.setstate(rng)
    trainer.opt.zero_grad(set_to_none=True)
