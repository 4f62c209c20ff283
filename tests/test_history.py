"""Tests for huatu.history: the SQLite generation history, its crash safety, and the one
atomic PNG writer and naming rule that saves with and without a history share.

Real SQLite files and real PNGs in ``tmp_path``. Crashes are simulated two ways: in-process
exceptions at each step of a save (the save must undo itself), and child processes that die
with ``os._exit`` at each step, or are killed with SIGKILL mid-loop (the next open must
finish or undo what they left).
"""

from __future__ import annotations

import errno
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from huatu import history
from huatu.errors import HuatuError, StorageError
from huatu.history import DB_NAME, HistoryEntry, HistoryStore, files, save_png
from huatu.metadata import read_parameters
from huatu.request import GenerationRequest
from huatu.service import ImageService

DB_FILES = {DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal"}


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    return tmp_path / "outputs"


@pytest.fixture
def store(outputs: Path):
    with HistoryStore(outputs) as opened:
        yield opened


def image(color: str = "red") -> Image.Image:
    return Image.new("RGB", (16, 16), color)


def save(
    store: HistoryStore, prompt: str = "a cat", *, seed: int = 1, negative: str = "", **kwargs
) -> HistoryEntry:
    request = GenerationRequest(prompt=prompt, negative_prompt=negative)
    return store.save(
        image(),
        f"{prompt}\nSteps: 25, Seed: {seed}",
        request=request,
        seed=seed,
        model="tiny",
        backend="local",
        **kwargs,
    )


def files_left(outputs: Path) -> list[str]:
    """Every file under ``outputs`` except the database's own, relative, sorted."""
    return sorted(
        path.relative_to(outputs).as_posix()
        for path in outputs.rglob("*")
        if path.is_file() and path.name not in DB_FILES
    )


def row_states(outputs: Path) -> dict[str, int]:
    """Row counts per state, read straight from the database file."""
    with sqlite3.connect(outputs / DB_NAME) as conn:
        rows = conn.execute("SELECT state, count(*) FROM entries GROUP BY state").fetchall()
    return dict(rows)


def assert_consistent(outputs: Path) -> list[HistoryEntry]:
    """Every done row has its file, every file has a done row, nothing else is left."""
    with HistoryStore(outputs) as reopened:
        entries = reopened.list(limit=10_000)
    assert set(row_states(outputs)) <= {"done"}
    assert all(entry.path.is_file() for entry in entries)
    listed = sorted(entry.path.relative_to(outputs).as_posix() for entry in entries)
    assert files_left(outputs) == listed
    return entries


# --------------------------------------------------------------------------------------------
# Saving, listing, searching


def test_save_writes_png_with_parameters_and_row(store: HistoryStore, outputs: Path) -> None:
    entry = save(
        store, "一只赛博朋克风格的猫", seed=42, negative="blurry", extra={"Preset": "Fast"}
    )
    assert entry.path.is_file()
    assert entry.path.parent.parent == outputs  # outputs/YYYY-MM-DD/
    assert entry.path.name.endswith("-42.png")
    assert read_parameters(entry.path) == "一只赛博朋克风格的猫\nSteps: 25, Seed: 42"
    assert entry.parameters == read_parameters(entry.path)
    assert entry.extra == {"Preset": "Fast"}
    assert entry.created_at.endswith("+00:00")
    assert store.get(entry.id) == entry
    assert store.list() == [entry]
    assert store.count() == 1
    assert row_states(outputs) == {"done": 1}


def test_save_into_a_given_folder(store: HistoryStore, tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    entry = save(store, folder=folder)
    assert entry.path.parent == folder
    assert store.get(entry.id) == entry


def test_list_is_newest_first_and_pages(store: HistoryStore) -> None:
    saved = [save(store, f"prompt {n}", seed=n) for n in range(5)]
    assert [e.id for e in store.list()] == [e.id for e in reversed(saved)]
    assert [e.seed for e in store.list(limit=2)] == [4, 3]
    assert [e.seed for e in store.list(limit=2, offset=2)] == [2, 1]
    assert store.list(offset=5) == []
    with pytest.raises(ValueError, match="limit"):
        store.list(limit=0)
    with pytest.raises(ValueError, match="offset"):
        store.list(offset=-1)


def test_search_english_chinese_and_literal_wildcards(store: HistoryStore) -> None:
    save(store, "A Cyberpunk cat", seed=1)
    save(store, "一只赛博朋克风格的猫", seed=2)
    save(store, "100% cotton shirt", seed=3)
    save(store, "1000 cotton shirts", seed=4)
    save(store, "snake_case sign", seed=5)
    save(store, "snakeXcase sign", seed=6, negative="ugly, Watermark")
    save(store, "a dog", seed=7, extra={"Original prompt": "一条小狗"})

    def seeds(query: str) -> list[int]:
        return sorted(entry.seed for entry in store.list(query))

    assert seeds("cyberpunk") == [1]
    assert seeds("CYBERPUNK") == [1]
    assert seeds("ｃｙｂｅｒ") == [1]  # full-width letters, as a Chinese IME may type them
    assert seeds("赛博朋克") == [2]
    assert seeds("猫") == [2]
    assert seeds("100%") == [3]
    assert seeds("%") == [3]
    assert seeds("snake_case") == [5]
    assert seeds("_") == [5]
    assert seeds("watermark") == [6]  # the negative prompt is searched too
    assert seeds("小狗") == [7]  # so is the original prompt before translation
    assert seeds("  cotton ") == [3, 4]
    assert seeds("") == [1, 2, 3, 4, 5, 6, 7]
    assert seeds("no such thing") == []
    assert store.count("cotton") == 2
    assert store.count("赛博") == 1
    assert store.count() == 7


def test_request_fields_round_trip(store: HistoryStore) -> None:
    request = GenerationRequest.create(
        prompt="a lighthouse at dusk",
        negative_prompt="people",
        num_inference_steps=12,
        guidance_scale=4.5,
        width=640,
        height=448,
        scheduler="euler_a",
    )
    entry = store.save(image(), "text", request=request, seed=1234, model="tiny", backend="hosted")
    fields = entry.request_fields()
    assert fields == {
        "prompt": "a lighthouse at dusk",
        "negative_prompt": "people",
        "num_inference_steps": 12,
        "guidance_scale": 4.5,
        "width": 640,
        "height": 448,
        "seed": 1234,
        "scheduler": "euler_a",
    }
    assert GenerationRequest.create(**fields) == request.with_seed(1234)
    assert store.get(entry.id).request_fields() == fields  # type: ignore[union-attr]


def test_delete_removes_row_and_file(store: HistoryStore, outputs: Path) -> None:
    keep = save(store, "keep", seed=1)
    gone = save(store, "gone", seed=2)
    assert store.delete(gone.id) is True
    assert not gone.path.exists()
    assert store.get(gone.id) is None
    assert store.list() == [keep]
    assert store.count() == 1
    assert store.delete(gone.id) is False
    assert store.delete(999) is False
    assert row_states(outputs) == {"done": 1}
    assert keep.path.is_file()
    # ids are never reused, so a stale id in a page cannot hit a newer entry
    assert save(store, "new", seed=3).id > gone.id


def test_delete_that_cannot_remove_the_file_keeps_the_entry(
    store: HistoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = save(store)

    def refuse(path: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(os, "unlink", refuse)
    with pytest.raises(HuatuError, match="Could not delete .*permission denied") as caught:
        store.delete(entry.id)
    assert caught.value.key == "history_delete_file_failed"  # type: ignore[attr-defined]
    monkeypatch.undo()
    assert store.get(entry.id) == entry
    assert entry.path.is_file()


def test_survives_reopening(outputs: Path) -> None:
    with HistoryStore(outputs) as first:
        saved = [save(first, f"prompt {n}", seed=n) for n in range(3)]
    with HistoryStore(outputs) as second:
        assert second.list() == list(reversed(saved))
        assert second.get(saved[0].id) == saved[0]
        second.delete(saved[1].id)
    with HistoryStore(outputs) as third:
        assert [e.seed for e in third.list()] == [2, 0]


def test_outputs_folder_can_move(outputs: Path, tmp_path: Path) -> None:
    with HistoryStore(outputs) as store:
        save(store, "moved", seed=9)
    moved = tmp_path / "moved-outputs"
    outputs.rename(moved)
    with HistoryStore(moved) as store:
        (entry,) = store.list()
        assert entry.path.is_file()
        assert entry.path.is_relative_to(moved)


def test_database_settings(store: HistoryStore, outputs: Path) -> None:
    conn = store._db.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA user_version").fetchone()[0] == history.SCHEMA_VERSION
    indexes = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entries'"
    ).fetchall()
    assert any("created_at" in (sql or "") for (sql,) in indexes)


def test_newer_schema_and_foreign_files_are_refused(tmp_path: Path) -> None:
    newer = tmp_path / "newer"
    newer.mkdir()
    with sqlite3.connect(newer / DB_NAME) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(HuatuError, match="newer huatu") as caught:
        HistoryStore(newer)
    assert "(schema 99, this one knows up to 1)" in str(caught.value)
    assert "更新版本的 huatu" in caught.value.render("zh-CN")  # type: ignore[attr-defined]

    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / DB_NAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(HuatuError, match="cannot be opened"):
        HistoryStore(junk)


def test_closed_store_says_so(outputs: Path) -> None:
    store = HistoryStore(outputs)
    store.close()
    store.close()  # idempotent
    with pytest.raises(HuatuError, match="closed"):
        store.list()


def test_concurrent_saves_from_threads(store: HistoryStore, outputs: Path) -> None:
    folder = outputs / "same-folder"  # one folder and one seed: names collide on purpose
    other = HistoryStore(outputs)  # a second store on the same database, as a CLI run would be
    start = threading.Barrier(9)
    finished = threading.Event()
    errors: list[BaseException] = []
    recoveries: list[history.Recovery] = []

    def work(worker: int) -> None:
        try:
            start.wait()
            for n in range(5):
                save(store if worker % 2 else other, f"worker {worker} {n}", seed=7, folder=folder)
                store.list(limit=5)  # reads interleave with writes
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    def recover_all_the_time() -> None:
        start.wait()
        while not finished.is_set():
            recoveries.append(other.recover())

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    recoverer = threading.Thread(target=recover_all_the_time)
    for thread in [*threads, recoverer]:
        thread.start()
    for thread in threads:
        thread.join()
    finished.set()
    recoverer.join()
    other.close()
    assert errors == []
    # saves in flight are never "recovered" under the feet of the thread doing them
    assert recoveries
    assert all(r.completed == r.removed_rows == r.removed_files == 0 for r in recoveries)
    entries = store.list(limit=100)
    assert len(entries) == store.count() == 40
    assert len({entry.path for entry in entries}) == 40
    assert len({entry.id for entry in entries}) == 40
    assert all(entry.path.is_file() for entry in entries)
    assert len(files_left(outputs)) == 40
    assert row_states(outputs) == {"done": 40}
    assert_consistent(outputs)


# --------------------------------------------------------------------------------------------
# One naming rule and one writer, with a history and without


def test_saves_with_and_without_history_share_one_naming_rule(
    tiny_service: ImageService, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    moment = datetime(2024, 5, 1, 8, 30, 0, 123456).astimezone()  # 08:30 local time

    class Frozen(datetime):
        """The writer's clock, stopped at ``moment``: every save wants the same name."""

        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return moment.astimezone(tz)

    monkeypatch.setattr(files, "datetime", Frozen)
    request = GenerationRequest.create(
        prompt="a fox", width=64, height=64, num_inference_steps=2, seed=42
    )
    plain = ImageService(settings, tiny_service.choice, tiny_service.backend)
    with HistoryStore(settings.outputs_dir) as store:
        kept = ImageService(settings, tiny_service.choice, tiny_service.backend, history=store)
        paths = [service.generate(request).paths[0] for service in (plain, kept, plain, kept)]
        entries = store.list()
    folder = settings.outputs_dir / "2024-05-01"  # the local date, by default
    stem = "083000-123456-42"
    assert paths == [folder / f"{stem}{suffix}.png" for suffix in ("", "-1", "-2", "-3")]
    assert sorted(entry.path for entry in entries) == [paths[1], paths[3]]
    assert all((read_parameters(path) or "").startswith("a fox\n") for path in paths)
    assert sorted(folder.iterdir()) == sorted(paths)  # and no temporary file left


def test_a_save_without_history_fails_like_one_with_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "plain"
    monkeypatch.setattr(files, "write_fully", half_then_full)
    with pytest.raises(StorageError, match="Could not save the image to .*: the disk is full"):
        save_png(image(), "text", seed=1, outputs_dir=tmp_path, folder=folder)
    assert list(folder.iterdir()) == []
    monkeypatch.undo()
    saved = save_png(image(), "text", seed=7, outputs_dir=tmp_path)
    assert saved.parent.parent == tmp_path and saved.name.endswith("-7.png")
    assert read_parameters(saved) == "text"


# --------------------------------------------------------------------------------------------
# Failures inside a save: the save undoes itself and says why


def half_then_full(descriptor: int, data: bytes) -> None:
    """A write that fills the disk half-way through the file."""
    os.write(descriptor, data[: len(data) // 2])
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_while_writing_the_png(
    store: HistoryStore, outputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "write_fully", half_then_full)
    folder = outputs / "2024-01-01"
    with pytest.raises(
        HuatuError, match="Could not save the image to .*: the disk is full"
    ) as info:
        save(store, folder=folder)
    assert str(folder) in str(info.value)
    assert info.value.key == "history_disk_full"  # type: ignore[attr-defined]
    assert info.value.render("zh-CN").endswith("：磁盘已满。")  # type: ignore[attr-defined]
    assert files_left(outputs) == []
    assert row_states(outputs) == {}
    assert store.count() == 0
    monkeypatch.undo()
    assert save(store, folder=folder).path.is_file()  # and the store still works


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("_insert_pending", sqlite3.OperationalError("database or disk is full")),
        ("replace", OSError(errno.EIO, "Input/output error")),
        ("_mark_done", sqlite3.OperationalError("disk I/O error")),
    ],
    ids=["insert", "rename", "mark-done"],
)
def test_failure_at_each_step_leaves_nothing(
    store: HistoryStore,
    outputs: Path,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    error: Exception,
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise error

    if target == "replace":
        monkeypatch.setattr(os, "replace", fail)
    else:
        monkeypatch.setattr(HistoryStore, target, fail)
    with pytest.raises(HuatuError, match="Could not (save|record) the image"):
        save(store)
    monkeypatch.undo()
    assert files_left(outputs) == []
    assert row_states(outputs) == {}
    assert store.recover() == history.Recovery()
    assert_consistent(outputs)


# --------------------------------------------------------------------------------------------
# Real crashes: a child process dies at each step, or is killed mid-loop

CHILD = r"""
import os, sys, threading
from pathlib import Path
from PIL import Image
import huatu.history as history
from huatu.request import GenerationRequest

outputs, mode = Path(sys.argv[1]), sys.argv[2]
store = history.HistoryStore(outputs)
request = GenerationRequest(prompt="crash test")
image = Image.new("RGB", (16, 16), "blue")

def save(seed):
    return store.save(image, "crash", request=request, seed=seed, model="tiny", backend="local")

def die(*args, **kwargs):
    os._exit(3)

if mode == "loop":
    def work(worker):
        for n in range(1_000_000):
            save(worker * 1_000_000 + n)
            os.write(1, b"saved\n")  # one write per line: atomic on a pipe
    for worker in range(3):
        threading.Thread(target=work, args=(worker,), daemon=True).start()
    threading.Event().wait()
elif mode == "delete":
    entry = save(1)
    os.unlink = die
    store.delete(entry.id)
else:
    if mode == "before_insert":
        history.HistoryStore._insert_pending = die
    elif mode == "before_rename":
        os.replace = die
    elif mode == "before_done":
        history.HistoryStore._mark_done = die
    save(7)
os._exit(0)
"""


def run_child(outputs: Path, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(outputs), mode],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_crash_between_file_write_and_row_insert(outputs: Path) -> None:
    done = run_child(outputs, "before_insert")
    assert done.returncode == 3, done.stderr
    (left,) = files_left(outputs)  # the crash left a complete temporary file, no row
    assert left.endswith(".png.part")
    assert row_states(outputs) == {}
    with HistoryStore(outputs) as store:
        assert store.count() == 0
    assert files_left(outputs) == []
    assert_consistent(outputs)


def test_crash_after_pending_commit_before_rename(outputs: Path) -> None:
    done = run_child(outputs, "before_rename")
    assert done.returncode == 3, done.stderr
    assert row_states(outputs) == {"pending": 1}
    assert [Path(name).suffix for name in files_left(outputs)] == [".part"]
    with HistoryStore(outputs) as store:
        (entry,) = store.list()  # the save was finished: the file was complete and synced
        assert read_parameters(entry.path) == "crash"
        assert entry.seed == 7
    assert_consistent(outputs)


def test_crash_after_rename_before_marking_done(outputs: Path) -> None:
    done = run_child(outputs, "before_done")
    assert done.returncode == 3, done.stderr
    assert row_states(outputs) == {"pending": 1}
    (left,) = files_left(outputs)
    assert left.endswith("-7.png")
    with HistoryStore(outputs) as store:
        (entry,) = store.list()
        assert entry.path.relative_to(outputs).as_posix() == left
    assert_consistent(outputs)


def test_crash_in_the_middle_of_a_delete(outputs: Path) -> None:
    done = run_child(outputs, "delete")
    assert done.returncode == 3, done.stderr
    assert row_states(outputs) == {"trash": 1}
    assert len(files_left(outputs)) == 1
    with HistoryStore(outputs) as store:
        assert store.count() == 0
    assert files_left(outputs) == []
    assert row_states(outputs) == {}


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_during_a_loop_of_saves(outputs: Path) -> None:
    rng = random.Random(1234)
    total = 0
    interrupted = 0  # rounds whose kill landed inside a save (most do)
    for round_number in range(12):
        if round_number >= 4 and interrupted:
            break
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(outputs), "loop"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert child.stdout is not None
            for _ in range(rng.randint(3, 12)):
                assert child.stdout.readline() == "saved\n"
            threading.Event().wait(rng.uniform(0, 0.02))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        leftovers = [name for name in files_left(outputs) if name.endswith(".part")]
        interrupted += bool(leftovers or set(row_states(outputs)) - {"done"})
        entries = assert_consistent(outputs)
        assert len(entries) >= total + 3
        total = len(entries)
    assert interrupted, "no kill landed inside a save: the test proved nothing"


@pytest.mark.skipif(os.name != "posix", reason="checks other processes with os.kill(pid, 0)")
def test_a_save_running_in_another_process_is_left_alone(store: HistoryStore) -> None:
    folder = save(store).path.parent  # a folder huatu writes into
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        temp = folder / f".huatu-{files.HOST_ID}-{sleeper.pid}-{'ab' * 8}.png.part"
        temp.write_bytes(b"half a png")
        assert store.recover().skipped == 1
        assert temp.exists()
    finally:
        sleeper.kill()
        sleeper.wait(timeout=30)
    assert store.recover().removed_files == 1
    assert not temp.exists()


def test_files_huatu_did_not_write_are_never_touched(outputs: Path) -> None:
    with HistoryStore(outputs) as store:
        folder = save(store).path.parent
    foreign = [
        folder / "by-hand.png",
        folder / "notes.txt",
        folder / ".other.png.part",
        folder / ".x.png.0123456789ab.tmp",  # the temporary name of huatu 0.1's write_png
        outputs / "old-run.png",
    ]
    for path in foreign:
        path.write_bytes(b"not huatu's")
    with HistoryStore(outputs) as store:
        assert store.count() == 1
        store.recover()
    assert all(path.exists() for path in foreign)
