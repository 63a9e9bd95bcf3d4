"""A run directory you can trust: everything a run produces is on disk as it goes, nothing is lost,
no step is logged twice, and one trainer at a time writes it.

    RUN/config.json          the full TrainConfig, written once the run really starts
    RUN/LOCK                 the trainer writing RUN now: pid, host, start time
    RUN/metrics.jsonl        one JSON row per step, append-only
    RUN/samples.jsonl        a few sampled completions per step (prompt, text, reward, correct)
    RUN/events.jsonl         control changes, skipped steps, stops, resumes (with their step)
    RUN/*.jsonl              any other log (e.g. a dashboard's evaluations): trimmed like the rest
    RUN/checkpoints/step_N/  the LoRA adapter (peft format) + trainer_state.pt + DONE

The rules, and what each one prevents:

- **The directory given is the run.** Nothing path-like is stored inside it, so a moved or copied
  run resumes where it now is (config.json holds no run_dir).
- **One trainer per directory.** RUN/LOCK is created with O_EXCL; a second trainer (another
  process, or this one) is refused while the owner lives. A lock whose process is gone is taken
  over, with a message.
- **A checkpoint is complete and verified, or it is not used.** It is written into a temporary
  directory and renamed into place; its DONE file records a SHA-256 of every file and the size
  of every log at that moment. On resume the newest checkpoint that verifies is used (a bad one
  is reported, with why, and moved to checkpoints/rejected/); the state loads with
  ``torch.load(weights_only=True)``, which runs no code from the file.
- **Resuming trims every log to the checkpoint.** Whatever a log gained after the checkpoint
  (rows of steps the resumed run will redo, a line torn by a kill or a full disk) is moved to
  RUN/<name>.discarded.jsonl, with a message naming the file: nothing is lost, nothing doubled.

Used by ``dsnb.rl.trainer`` (which owns the order of these operations) and by readers such as
``dsnb.rl.evaluate`` and the dashboard.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sys
import threading
import time
import uuid
import weakref
from pathlib import Path

import torch

from dsnb.rl.errors import CheckpointError, NoRunError, RunDirError, RunExistsError, RunLockedError

__all__ = [
    "RunDir",
    "RunLock",
    "RunDirError",
    "RunLockedError",
    "RunExistsError",
    "NoRunError",
    "CheckpointError",
]

CHECKPOINT_FORMAT = 2  # DONE holds {"step", "files": {name: sha256}, "logs": {name: bytes}}


def say(message: str) -> None:
    """A one-line notice to the person running dsnb (stderr: it survives a redirected stdout)."""
    print(f"dsnb: {message}", file=sys.stderr, flush=True)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


# ----------------------------------------------------------------------------- the lock
def _process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (Linux), so a recycled pid is not mistaken for the owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    except OSError:
        return False
    return True


_HELD: dict[str, weakref.ref] = {}  # resolved run dir -> the RunLock of this process holding it
_HELD_GUARD = threading.Lock()


class RunLock:
    """RUN/LOCK: one trainer per run directory, across processes.

    Created with O_EXCL (atomic on local filesystems), holding {"pid", "host", "started",
    "proc_start", "token"}. Inside one process a newer trainer takes the lock from an older one
    that is not training at that moment (a notebook cell run twice); the older one then refuses
    to write (:meth:`check`).
    """

    def __init__(self, run_path: Path):
        self.path = run_path / "LOCK"
        self.key = str(run_path.resolve())
        self.token = uuid.uuid4().hex
        self.held = False
        self.lost = False  # a newer trainer in this process took the directory over
        self.busy = 0  # > 0 while the owner is inside a step or train()

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # half-written (its creator is between open and write) or garbage

    def _describe(self, h: dict) -> str:
        if not h.get("started"):
            return "unknown: the lock file is unreadable"
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h["started"]))
        return f"pid {h.get('pid', '?')} on {h.get('host', '?')}, since {when}"

    def acquire(self) -> RunLock:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        me |= {"proc_start": _process_start(os.getpid()), "token": self.token}
        for _ in range(50):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._take_over_or_refuse(me)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(me))
                f.flush()
                os.fsync(f.fileno())
            self.held = True
            with _HELD_GUARD:
                _HELD[self.key] = weakref.ref(self)
            return self
        raise RunLockedError(f"could not take {self.path} (it kept changing hands); try again")

    def _take_over_or_refuse(self, me: dict) -> None:
        holder = self._holder()
        if holder is None:
            return  # released meanwhile: try again
        if holder == {}:  # being written right now, or garbage left by a crash
            age = time.time() - self.path.stat().st_mtime if self.path.exists() else 0
            if age < 5:
                time.sleep(0.05)
                return
            holder = {"pid": "?", "host": "?", "started": 0}
        same_host = holder.get("host") == me["host"]
        if same_host and holder.get("pid") == me["pid"]:
            with _HELD_GUARD:
                ref = _HELD.get(self.key)
                owner = ref() if ref is not None else None
            if owner is not None and owner.token == holder.get("token") and owner.busy:
                raise RunLockedError(
                    f"{self.path.parent} is being trained right now by another Trainer in this "
                    "process (another thread?). Stop it first (trainer.controls.stop()); two "
                    "trainers must never write one run."
                )
            if owner is not None and owner.token == holder.get("token"):
                owner.lost, owner.held = True, False  # an idle older Trainer: the new one takes over
            self._replace_lock()
            return
        if not same_host and holder.get("host") != "?":
            raise RunLockedError(
                f"{self.path.parent} is locked by a trainer on another machine ({self._describe(holder)}). "
                f"If no process there trains this run any more, delete {self.path} and try again."
            )
        pid = holder.get("pid")
        alive = isinstance(pid, int) and _pid_alive(pid)
        if alive and holder.get("proc_start") and _process_start(pid) not in (None, holder["proc_start"]):
            alive = False  # the pid was recycled by an unrelated process
        if alive:
            raise RunLockedError(
                f"{self.path.parent} is being trained by another process ({self._describe(holder)}). "
                "One trainer per run directory: wait for it to finish, stop it, or use another run_dir."
            )
        say(
            f"taking over the lock of {self.path.parent}: its owner ({self._describe(holder)}) "
            "is gone (it was killed or crashed); resuming is safe"
        )
        self._replace_lock()

    def _replace_lock(self) -> None:
        """Move the old lock aside atomically: of two processes taking over, one wins the rename."""
        aside = self.path.with_name(f".LOCK.stale.{self.token}")
        try:
            os.rename(self.path, aside)
            os.unlink(aside)
        except FileNotFoundError:
            pass  # someone else moved it: the loop tries O_EXCL again

    def check(self) -> None:
        """Raise unless this lock still owns the directory."""
        if self.lost:
            raise RunLockedError(
                f"a newer Trainer in this process took over {self.path.parent}; this one may no "
                "longer write it (use the newer one)"
            )
        if not self.held:
            raise RunLockedError(f"this Trainer released {self.path.parent} (it was closed)")

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        holder = self._holder()
        if holder and holder.get("token") == self.token:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        with _HELD_GUARD:
            ref = _HELD.get(self.key)
            if ref is not None and ref() is self:
                del _HELD[self.key]


# ----------------------------------------------------------------------------- the directory
class RunDir:
    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path)
        self.ckpt_root = self.path / "checkpoints"
        if create:
            self._create()

    def _create(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunDirError(
                f"cannot create the run directory {self.path} ({err.strerror or err}). "
                "Choose a directory you can write to, e.g. runs/NAME."
            ) from None
        if not self.path.is_dir():
            raise RunDirError(f"{self.path} exists and is not a directory; choose another run_dir")

    def check_writable(self) -> None:
        """Raise RunDirError (one clear sentence) unless files can be created in the directory."""
        probe = self.path / f".dsnb-write-test-{uuid.uuid4().hex[:8]}"
        try:
            probe.write_text("")
            probe.unlink()
        except OSError as err:
            raise RunDirError(
                f"cannot write in the run directory {self.path} ({err.strerror or err}): it is "
                "read-only, on a read-only disk or not yours. Choose a writable run_dir (or "
                "copy the run somewhere writable and resume the copy)."
            ) from None

    def lock(self) -> RunLock:
        """Take RUN/LOCK (see :class:`RunLock`); RunDirError if the directory is not writable."""
        self.check_writable()
        try:
            return RunLock(self.path).acquire()
        except RunDirError:
            raise
        except OSError as err:
            raise RunDirError(f"cannot create {self.path / 'LOCK'} ({err.strerror or err})") from None

    def clean_leftovers(self) -> list[str]:
        """Remove what an interrupted save left behind (a half-written checkpoint or config in a
        temporary name); call only while holding the lock. Returns the names removed."""
        junk = list(self.ckpt_root.glob(".step_*")) if self.ckpt_root.exists() else []
        junk += list(self.path.glob(".*.tmp")) + list(self.path.glob(".dsnb-write-test-*"))
        for p in junk:
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        return [p.name for p in junk]

    # -------------------------------------------------------------------- config and state
    def has_config(self) -> bool:
        return (self.path / "config.json").exists()

    def holds_run(self) -> bool:
        """True when the directory holds (part of) a run: a config, a log or a checkpoint."""
        if self.has_config() or (self.ckpt_root.exists() and any(self.ckpt_root.iterdir())):
            return True
        return any(p.stat().st_size > 0 for p in self.path.glob("*.jsonl"))

    def write_config(self, config: dict) -> None:
        """Write config.json atomically, without run_dir: the directory itself is the run."""
        config = {k: v for k, v in config.items() if k != "run_dir"}
        atomic_write(self.path / "config.json", json.dumps(config, indent=2, sort_keys=True))

    def read_config(self) -> dict:
        p = self.path / "config.json"
        if not self.path.is_dir():
            raise NoRunError(
                f"no run directory at {self.path}. Start a run there with "
                f"`dsnb train --run-dir {self.path}` (or Trainer(TrainConfig(run_dir=...)).train())."
            )
        if not p.exists():
            raise NoRunError(
                f"{self.path} holds no run to resume (no config.json: a run writes it when it "
                f"starts). Start one with `dsnb train --run-dir {self.path}`."
            )
        try:
            config = json.loads(p.read_text())
        except (OSError, ValueError) as err:
            raise RunDirError(f"{p} is unreadable ({err}); the run's settings are lost") from None
        config.pop("run_dir", None)  # older runs stored it; the directory is the run
        return config

    def clear(self) -> list[str]:
        """Delete the run in the directory (config, logs, checkpoints), nothing else. Returns what went."""
        gone = []
        for p in [self.path / "config.json", *sorted(self.path.glob("*.jsonl"))]:
            if p.exists():
                p.unlink()
                gone.append(p.name)
        if self.ckpt_root.exists():
            shutil.rmtree(self.ckpt_root)
            gone.append("checkpoints/")
        return gone

    # -------------------------------------------------------------------- logs
    def logs(self) -> list[Path]:
        """Every log of the run: RUN/*.jsonl except the .discarded.jsonl files."""
        return sorted(p for p in self.path.glob("*.jsonl") if not p.name.endswith(".discarded.jsonl"))

    def append(self, name: str, row: dict) -> None:
        """Append one JSON row to RUN/<name>.jsonl and flush it (a crash loses nothing)."""
        with open(self.path / f"{name}.jsonl", "a") as f:
            f.write(json.dumps(row, default=float) + "\n")
            f.flush()

    def read(self, name: str) -> list[dict]:
        """The rows of RUN/<name>.jsonl. A torn last line (a writer killed mid-line, or one
        writing right now) is left out; a broken line elsewhere is an error naming file and line."""
        p = self.path / f"{name}.jsonl"
        if not p.exists():
            return []
        lines = p.read_text().split("\n")
        rows = []
        for i, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError:
                if i == len(lines):  # no newline after it: torn or still being written
                    break
                raise RunDirError(f"{p}, line {i}: not valid JSON (the file is damaged)") from None
        return rows

    def event(self, step: int, kind: str, **info) -> None:
        self.append("events", {"step": step, "event": kind, "time": time.time(), **info})

    def log_sizes(self) -> dict[str, int]:
        """{log file name: its size in bytes} now (recorded in every checkpoint)."""
        return {p.name: p.stat().st_size for p in self.logs()}

    def trim_logs(self, sizes: dict[str, int] | None, step: int) -> int:
        """Cut every log back to a checkpoint: to the byte sizes it recorded (``sizes``), or, for
        checkpoints older than that record, to the rows with ``step <= step``. What is cut goes to
        RUN/<name>.discarded.jsonl (a torn line as {"torn_line": text}), with a message naming the
        file. Returns the number of metrics rows moved aside."""
        moved_metrics = 0
        for p in self.logs():
            data = p.read_bytes()
            keep = self._keep_bytes(data, sizes.get(p.name, 0) if sizes is not None else None, step)
            if keep == len(data):
                continue
            extra = data[keep:].decode("utf-8", errors="replace").split("\n")
            torn = extra[-1] if extra[-1].strip() else None
            rows = [line for line in extra[:-1] if line.strip()]
            with open(p.with_name(p.name[: -len(".jsonl")] + ".discarded.jsonl"), "a") as f:
                for line in rows:
                    try:
                        json.loads(line)
                        f.write(line + "\n")
                    except ValueError:
                        f.write(json.dumps({"torn_line": line}) + "\n")
                if torn is not None:
                    f.write(json.dumps({"torn_line": torn}) + "\n")
            with open(p, "r+b") as f:
                f.truncate(keep)
            discarded = p.name[: -len(".jsonl")] + ".discarded.jsonl"
            what = f"{len(rows)} row(s) written after the checkpoint" if rows else ""
            if torn is not None:
                what += (
                    " and " if what else ""
                ) + "a torn last line (a write cut off by a kill or a full disk)"
            say(f"{p} had {what}; moved to {p.parent / discarded}")
            if p.name == "metrics.jsonl":
                moved_metrics = len(rows) + (torn is not None)
        return moved_metrics

    @staticmethod
    def _keep_bytes(data: bytes, size: int | None, step: int) -> int:
        """How many leading bytes of a log belong to the checkpoint."""
        if size is not None and size <= len(data) and (size == 0 or data[size - 1 : size] == b"\n"):
            return size
        keep = 0  # no usable record: keep whole rows whose step the checkpoint covers
        for line in data.split(b"\n")[:-1]:
            try:
                row = json.loads(line) if line.strip() else {}
            except ValueError:
                break
            if not isinstance(row, dict) or row.get("step", 0) > step:
                break
            keep += len(line) + 1
        return keep

    # -------------------------------------------------------------------- checkpoints
    def checkpoints(self) -> list[Path]:
        """Checkpoints that claim to be complete (a DONE file), oldest first; see :meth:`verify`."""
        if not self.ckpt_root.exists():
            return []
        done = [p for p in self.ckpt_root.glob("step_*") if p.is_dir() and (p / "DONE").exists()]
        return sorted(done, key=lambda p: int(p.name.split("_")[1]))

    def latest_checkpoint(self) -> Path | None:
        """The newest checkpoint that verifies (None if there is none)."""
        for ckpt in reversed(self.checkpoints()):
            if self.verify(ckpt) is None:
                return ckpt
        return None

    def save_checkpoint(self, step: int, policy, state: dict, keep: int = 3) -> Path:
        """Adapter + trainer state for `step` (the number of finished steps), with a DONE file
        of checksums and log sizes; written aside and renamed into place (all or nothing)."""
        final = self.ckpt_root / f"step_{step:06d}"
        tmp = self.ckpt_root / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.mkdir(parents=True)
        try:
            policy.save_adapter(tmp)
            torch.save(state, tmp / "trainer_state.pt")
            files = {}
            for f in sorted(tmp.iterdir()):
                if f.is_file():
                    with open(f, "rb+") as fh:
                        os.fsync(fh.fileno())
                    files[f.name] = sha256(f)
            manifest = {"format": CHECKPOINT_FORMAT, "step": step, "files": files, "logs": self.log_sizes()}
            atomic_write(tmp / "DONE", json.dumps(manifest, indent=1))
            if final.exists():
                old = final.with_name(f".{final.name}.old.{uuid.uuid4().hex[:8]}")
                os.rename(final, old)
                os.rename(tmp, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, final)
            _fsync_dir(self.ckpt_root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        for old in self.checkpoints()[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def manifest(self, ckpt: Path) -> dict:
        """The DONE record of a checkpoint ({"step": N} alone for checkpoints of older dsnb)."""
        text = (ckpt / "DONE").read_text().strip()
        if text.isdigit():
            return {"format": 1, "step": int(text)}
        return json.loads(text)

    def verify(self, ckpt: Path) -> str | None:
        """None when the checkpoint is whole, else why not (one phrase)."""
        try:
            manifest = self.manifest(ckpt)
        except (OSError, ValueError):
            return "its DONE file is unreadable (the save did not finish)"
        names = manifest.get("files") or {"adapter_model.safetensors": None, "trainer_state.pt": None}
        for name, digest in names.items():
            f = ckpt / name
            if not f.is_file():
                return f"{name} is missing"
            if f.stat().st_size == 0:
                return f"{name} is empty"
            if digest is not None and sha256(f) != digest:
                return f"{name} does not match the checksum recorded when it was saved (damaged or replaced)"
        return None

    def load_state(self, ckpt: Path) -> dict:
        """trainer_state.pt with ``weights_only=True``: tensors and plain Python values only, so
        opening someone else's run directory cannot run their code."""
        return torch.load(ckpt / "trainer_state.pt", weights_only=True, map_location="cpu")

    def check_adapter(self, ckpt: Path) -> str | None:
        """None when the adapter file loads and every weight is finite, else why not."""
        from safetensors.torch import load_file

        try:
            tensors = load_file(str(ckpt / "adapter_model.safetensors"))
        except Exception as err:  # safetensors raises its own error types
            return f"adapter_model.safetensors does not load ({type(err).__name__}: {err})"
        bad = [k for k, t in tensors.items() if t.is_floating_point() and not torch.isfinite(t).all()]
        if bad:
            return f"the adapter holds NaN/inf weights ({bad[0]}{' and more' if len(bad) > 1 else ''})"
        return None

    def newest_good_checkpoint(self) -> tuple[Path | None, dict | None, list[tuple[str, str]]]:
        """(checkpoint, its state, [(rejected name, why)]): the newest checkpoint that verifies,
        loads and holds finite weights. Newer ones that fail are reported and moved to
        checkpoints/rejected/ (kept for a look). CheckpointError, moving nothing, when
        checkpoints exist but none is usable; (None, None, []) when there are none."""
        rejected = []
        for ckpt in reversed(self.checkpoints()):
            why = self.verify(ckpt) or self.check_adapter(ckpt)
            state = None
            if why is None:
                try:
                    state = self.load_state(ckpt)
                except Exception as err:  # pickle / zip errors of a damaged or foreign file
                    why = f"trainer_state.pt does not load safely ({type(err).__name__}: {str(err)[:200]})"
            if why is None:
                for bad, reason in rejected:
                    aside = self.ckpt_root / "rejected" / f"{bad.name}.{time.strftime('%Y%m%d-%H%M%S')}"
                    aside.parent.mkdir(exist_ok=True)
                    os.rename(bad, aside)
                    say(f"checkpoint {bad} is unusable: {reason}; moved to {aside}; using {ckpt.name}")
                return ckpt, state, [(b.name, r) for b, r in rejected]
            rejected.append((ckpt, why))
        if rejected:
            lines = "; ".join(f"{b.name}: {w}" for b, w in rejected)
            raise CheckpointError(
                f"no usable checkpoint in {self.ckpt_root} ({lines}). Start the run over with "
                "overwrite=True (dsnb train --overwrite), or put an intact checkpoint back and resume."
            )
        return None, None, []
