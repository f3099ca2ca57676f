#!/usr/bin/env python3
# requires: tensorboard==2.21.0 protobuf==7.36.2
"""Independent check of RunKit's TensorBoard event files against tensorboard's own code.

  python3 Tests/Scripts/make_tensorboard_fixture.py            # (a) regenerate the fixtures
  python3 Tests/Scripts/make_tensorboard_fixture.py FILE...     # (b) read RunKit-written event files

Installs tensorboard into a venv under /tmp on first use (PyPI); CI never runs this.
(a) writes Tests/Fixtures/runkit/record_writer.tfevents (tensorboard's RecordWriter and Event
    protobufs: file_version record then the scalars below, byte for byte what RunKit must write)
    and event_file_writer.tfevents (tensorboard's EventFileWriter with time frozen; its first
    record carries source_metadata, so tests compare only its scalar records).
(b) loads each file with tensorboard's event_file_loader and prints every record.
"""
import os
import subprocess
import sys

from pins import pins, require

VENV = "/tmp/rpp-tensorboard-venv"
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "Fixtures", "runkit")

# (tag, step, wall_time, value): shared with RunKitTests/TensorBoardTests.swift.
SCALARS = [
    ("reward/mean", 0, 1700000000.25, 0.5),
    ("reward/mean", 1, 1700000001.5, 0.1),
    ("eval/accuracy", 1, 1700000001.5, 0.0),
    ("kl/per_token", 2, 1700000002.75, -3.0e-4),
    ("response/length", 300, 1700000100.0, 5.75),
    ("loss/policy", -1, 0.0, 123456.789),
]
FILE_VERSION_TIME = 1700000000.0


def ensure_venv():
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV) or os.environ.get("RPP_TB_VENV"):
        return
    if not os.path.exists(python):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    subprocess.check_call([python, "-m", "pip", "install", "-q"] + [f"{n}=={v}" for n, v in pins(__file__)])
    env = dict(os.environ, RPP_TB_VENV="1")
    os.execve(python, [python, os.path.abspath(__file__)] + sys.argv[1:], env)


def scalar_event(event_pb2, summary_pb2, tag, step, wall_time, value):
    return event_pb2.Event(
        wall_time=wall_time, step=step,
        summary=summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)]))


def make_fixtures():
    from unittest import mock
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    os.makedirs(FIXTURES, exist_ok=True)
    path = os.path.join(FIXTURES, "record_writer.tfevents")
    with open(path, "wb") as f:
        writer = RecordWriter(f)
        writer.write(event_pb2.Event(wall_time=FILE_VERSION_TIME, file_version="brain.Event:2").SerializeToString())
        for tag, step, wall_time, value in SCALARS:
            writer.write(scalar_event(event_pb2, summary_pb2, tag, step, wall_time, value).SerializeToString())
    print("wrote", path)

    tmp = "/tmp/rpp-tb-fixture"
    os.makedirs(tmp, exist_ok=True)
    for name in os.listdir(tmp):
        os.remove(os.path.join(tmp, name))
    with mock.patch("time.time", return_value=FILE_VERSION_TIME):
        writer = EventFileWriter(tmp)
    for tag, step, wall_time, value in SCALARS:
        writer.add_event(scalar_event(event_pb2, summary_pb2, tag, step, wall_time, value))
    writer.close()
    (name,) = os.listdir(tmp)
    target = os.path.join(FIXTURES, "event_file_writer.tfevents")
    with open(os.path.join(tmp, name), "rb") as src, open(target, "wb") as dst:
        dst.write(src.read())
    print("wrote", target)


def read_files(paths):
    from tensorboard.backend.event_processing import event_file_loader
    for path in paths:
        print("==", path)
        for event in event_file_loader.EventFileLoader(path).Load():
            if event.HasField("file_version"):
                print("file_version", event.file_version, "wall_time", event.wall_time)
            for value in event.summary.value:
                # The loader upgrades simple_value to a tensor; show both views.
                scalar = value.simple_value if value.HasField("simple_value") else value.tensor.float_val[0]
                print("step", event.step, "wall_time", event.wall_time, "tag", value.tag, "value", scalar)


if __name__ == "__main__":
    ensure_venv()
    require(__file__)
    if len(sys.argv) > 1:
        read_files(sys.argv[1:])
    else:
        make_fixtures()
