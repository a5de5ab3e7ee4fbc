"""Helpers of the reliability suite: run a CLI (in this process or as a subprocess) and read how it failed.

A CLI "answers bad input clearly" when it exits non-zero with one paragraph naming the file, the record and the field,
raised by finecl-hf's own checks rather than from deep inside a library (pyarrow, pandas, torch). `CliOutcome` holds
what is needed to assert that: exit status, the error paragraph and the file of the innermost traceback frame.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import re
import runpy
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from transformers import Trainer, TrainerCallback
from transformers.utils import logging as transformers_logging

REPOSITORY = Path(__file__).resolve().parents[2]
BAD_INPUTS = Path(__file__).resolve().parent / "bad_inputs"
# Frames in these folders are finecl-hf's own code.
OWN_CODE = ("finecl_hf/", "trainers/", "dataset_scripts/")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b(: |$)")
_FRAME_LINE = re.compile(r'^\s*File "([^"]+)", line \d+')


@dataclass
class CliOutcome:
    """How a CLI run ended.

    Attributes:
        returncode: exit status (1 for an uncaught exception, as the interpreter would give).
        message: the error paragraph: the `sys.exit` text, the exception's message or argparse's `error:` line.
        stdout, stderr: what the run printed.
        raised_in: repository-relative path (or absolute path outside it) of the innermost traceback frame, when the
            run ended with an exception.
    """

    returncode: int
    message: str
    stdout: str
    stderr: str
    raised_in: str | None = None

    @property
    def raised_by_own_code(self) -> bool:
        return self.raised_in is not None and self.raised_in.startswith(OWN_CODE)

    def describe(self) -> str:
        return (
            f"exit {self.returncode}, raised in {self.raised_in}\nmessage: {self.message}\n"
            f"stderr tail:\n{self.stderr[-2000:]}"
        )


def _relative(path: str) -> str:
    try:
        return Path(path).resolve().relative_to(REPOSITORY).as_posix()
    except ValueError:
        return path


def run_cli(script: str, arguments: list[str]) -> CliOutcome:
    """Run `REPOSITORY/script` as `__main__` in this process with `arguments` (no interpreter start-up, ~10 s saved),
    or, for `script` = ``"finecl <command>"``, the `finecl` console script's `main`.

    The script's own `if __name__ == "__main__"` block runs, so its error handling (e.g. the converters' one-line
    `error:` exit) is exercised exactly as on the command line.
    """
    stdout, stderr = io.StringIO(), io.StringIO()
    saved_argv, saved_verbosity = sys.argv, transformers_logging.get_verbosity()
    if script.startswith("finecl "):
        from finecl_hf.commands import main as finecl_main

        sys.argv = ["finecl", *script.split()[1:], *arguments]

        def target():
            finecl_main(sys.argv[1:])
    else:
        sys.argv = [str(REPOSITORY / script), *arguments]

        def target():
            runpy.run_path(str(REPOSITORY / script), run_name="__main__")

    returncode, message, raised_in = 0, "", None
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            target()
    except SystemExit as exit_:
        if isinstance(exit_.code, str):  # sys.exit("error: ...") prints the text and exits with 1
            returncode, message = 1, exit_.code
        else:
            returncode = exit_.code or 0
            message = _argparse_error(stderr.getvalue())
    except Exception as error:  # noqa: BLE001 - the outcome under test is whatever the CLI raises
        returncode, message = 1, f"{type(error).__name__}: {error}"
        raised_in = _relative(traceback.extract_tb(error.__traceback__)[-1].filename)
    finally:
        sys.argv = saved_argv
        transformers_logging.set_verbosity(saved_verbosity)  # the trainer CLIs turn on INFO logging
    return CliOutcome(returncode, message, stdout.getvalue(), stderr.getvalue(), raised_in)


def _argparse_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if ": error: " in line]
    return lines[-1] if lines else ""


@contextlib.contextmanager
def single_thread():
    """Run torch on one intra-op thread, as child processes with `OMP_NUM_THREADS=1` do: CPU results then match
    bit for bit between a run in this process and a run in a child."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def read_config(folder: str | Path, config: str) -> dict[str, list]:
    """The rows of one config of a dataset folder (its Parquet files, read directly), as columns.

    Deliberately not `datasets.load_dataset`: with `datasets` 5.2 it returns cached rows of *another* folder with the
    same name and card (see `test_cross_stage.py`), which would make any comparison of two runs vacuous.
    """
    paths = sorted((Path(folder) / config).glob("*.parquet"))
    assert paths, f"{folder} has no Parquet file for config {config!r}"
    return pa.concat_tables([pq.read_table(path) for path in paths]).to_pydict()


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment of child processes: offline, one thread per process (2-core machine), deterministic kernels."""
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(REPOSITORY), os.environ.get("PYTHONPATH", "")]),
        **extra,
    }


def run_cli_subprocess(script: str, arguments: list[str], timeout: float = 300, **env: str) -> CliOutcome:
    """Run `python REPOSITORY/script arguments` in a child process and parse its error paragraph from stderr."""
    completed = subprocess.run(
        [sys.executable, str(REPOSITORY / script), *arguments],
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        env=subprocess_env(**env),
        timeout=timeout,
    )
    message, raised_in = error_paragraph(completed.stderr)
    return CliOutcome(completed.returncode, message, completed.stdout, completed.stderr, raised_in)


def error_paragraph(stderr: str) -> tuple[str, str | None]:
    """`(error paragraph, innermost frame)` of a process's stderr: the traceback's exception text and its last
    frame, else the last `error:` line (converters, argparse)."""
    lines = stderr.splitlines()
    frames = [match.group(1) for line in lines if (match := _FRAME_LINE.match(line))]
    if frames:
        starts = [index for index, line in enumerate(lines) if _EXCEPTION_LINE.match(line)]
        message = "\n".join(lines[starts[-1] :]) if starts else lines[-1]
        return message.strip(), _relative(frames[-1])
    errors = [line for line in lines if line.startswith("error: ") or ": error: " in line]
    return (errors[-1] if errors else (lines[-1] if lines else "")), None


# ----------------------------------------------------------------------------------------------- interruption points
PAUSE_ENV = "FINECL_TEST_PAUSE_AFTER_CHECKPOINT"
STALL_ENV = "FINECL_TEST_STALL_SAVE_AT"
PAUSED = "PAUSED AFTER CHECKPOINT"
STALLED = "STALLED INSIDE SAVE OF CHECKPOINT"


class PauseAfterCheckpoint(TrainerCallback):
    """Announce, then stand still for good, right after checkpoint `step` was saved (its `on_save`, i.e. after the
    trainer's whole `_save_checkpoint`), so a parent process can SIGKILL the run at a known point."""

    def __init__(self, step: int):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            print(f"{PAUSED} {self.step}", flush=True)
            time.sleep(3600)


class StepCounter(TrainerCallback):
    """Count the optimizer steps a run really performs (a resumed run must not redo the steps it restored)."""

    def __init__(self):
        self.steps: list[int] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(state.global_step)


def add_callback_to_every_trainer(callback: TrainerCallback):
    """Patch `Trainer.__init__` so that every trainer built afterwards (any subclass, any CLI) gets `callback`.

    Returns the original `__init__`, to restore it.
    """
    original = Trainer.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.add_callback(callback)

    Trainer.__init__ = __init__
    return original


def stall_inside_save(step: int) -> None:
    """Make the save of checkpoint `step` stand still after the model weights are written and before the optimizer,
    scheduler, RNG and trainer state: a kill then leaves a folder that looks like a checkpoint but is not one."""
    original = Trainer._save_optimizer_and_scheduler

    def _save_optimizer_and_scheduler(self, output_dir):
        if self.state.global_step == step:
            print(f"{STALLED} {step}", flush=True)
            time.sleep(3600)
        return original(self, output_dir)

    Trainer._save_optimizer_and_scheduler = _save_optimizer_and_scheduler


def start_interruptible(script: str, arguments: list[str], *, pause_after: int | None = None,
                        stall_at: int | None = None) -> subprocess.Popen:
    """Start `script` (a CLI of the repository) through `interrupt_cli.py` with one interruption point."""
    extra = {}
    if pause_after is not None:
        extra[PAUSE_ENV] = str(pause_after)
    if stall_at is not None:
        extra[STALL_ENV] = str(stall_at)
    wrapper = Path(__file__).resolve().parent / "interrupt_cli.py"
    return subprocess.Popen(
        [sys.executable, str(wrapper), str(REPOSITORY / script), *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPOSITORY, env=subprocess_env(**extra),
    )


def kill_when_announced(process: subprocess.Popen, announcement: str, timeout: float = 400) -> str:
    """Read the child's output until a line starts with `announcement`, then SIGKILL it; return its output.

    Fails, showing the child's output, when the child exits or `timeout` seconds pass before the announcement.
    """
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    output: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            process.kill()
            raise AssertionError(f"no {announcement!r} within {timeout} s:\n" + "".join(output)[-4000:]) from None
        if line is None:
            process.wait(timeout=60)
            raise AssertionError(
                f"the child ended (exit {process.returncode}) before {announcement!r}:\n" + "".join(output)[-4000:]
            )
        output.append(line)
        if line.startswith(announcement):
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, process.returncode
    return "".join(output)


__all__ = [
    "BAD_INPUTS",
    "PAUSED",
    "PAUSE_ENV",
    "STALL_ENV",
    "STALLED",
    "PauseAfterCheckpoint",
    "StepCounter",
    "add_callback_to_every_trainer",
    "kill_when_announced",
    "stall_inside_save",
    "start_interruptible",
    "REPOSITORY",
    "CliOutcome",
    "error_paragraph",
    "run_cli",
    "read_config",
    "run_cli_subprocess",
    "single_thread",
    "subprocess_env",
]
