#!/usr/bin/env python3
# requires: zstandard==0.25.0
"""Writes hostile frames to Tests/Fixtures/fuzz/, built from the documented header layout (README,
"The wire") with an independent CRC32C, so the decoder is tested on inputs its own encoder never makes.
WireTests replays every file there (and whatever `make fuzz` ever found) and expects no crash.
Needs the `zstandard` module for the zstd cases: pip install zstandard==0.25.0."""
import os
import struct

from pins import require

require(__file__)

OUT = os.path.join(os.path.dirname(__file__), "..", "Fixtures", "fuzz")


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def frame(kind, payload, flags=0, raw_length=None, version=1):
    raw_length = len(payload) if raw_length is None else raw_length
    head = b"RPPF" + struct.pack("<HHHHII", version, kind, flags, 0, len(payload), raw_length)
    return head + struct.pack("<I", crc32c(payload, crc32c(head))) + payload


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def main():
    os.makedirs(OUT, exist_ok=True)
    # A weight chunk whose tensor claims 2^62 elements in a tiny payload.
    tensor = b"\x08\x01" + b"\x12" + varint(len(varint(1 << 62))) + varint(1 << 62)
    chunk = b"\x18\x01" + b"\x2a" + varint(len(tensor)) + tensor
    write("huge-shape.frame", frame(14, chunk))
    # Length-delimited fields nested 2000 deep: the schema reads three levels, the rest is tensor bytes.
    nested = b""
    for _ in range(2000):
        nested = b"\x1a" + varint(len(nested)) + nested
    write("nested-fields.frame", frame(12, nested))
    # A length-delimited field that runs past the end of the payload.
    write("field-overrun.frame", frame(6, b"\x32\xff\xff\xff\x0f\x01"))
    # Compressed flag, raw length at the cap, payload that is not zstd.
    write("not-zstd.frame", frame(3, b"\x28\xb5\x2f\xfd" + b"\x00" * 16, flags=1, raw_length=256 << 20))
    try:
        import zstandard
    except ImportError:
        print("zstandard not installed: skipping the zstd bomb")
    else:
        # 64 MiB of zeros in a few KiB: the header tells the truth, so it must be refused by the cap
        # of the process that reads it (the fuzz target caps at 4 MiB) or decoded within its cap.
        bomb = zstandard.ZstdCompressor(level=19).compress(b"\x00" * (64 << 20))
        write("zstd-bomb.frame", frame(14, bomb, flags=1, raw_length=64 << 20))
        # A zstd frame that declares one size while the header says another.
        liar = zstandard.ZstdCompressor().compress(b"\x01" * 1000)
        write("zstd-size-lie.frame", frame(14, liar, flags=1, raw_length=10))
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
