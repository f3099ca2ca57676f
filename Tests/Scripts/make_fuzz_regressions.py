#!/usr/bin/env python3
# requires: zstandard==0.25.0
"""Writes hostile frames, and weight chunks as a receiver reads them in place, to Tests/Fixtures/fuzz/, built from
the documented header layout (README, "The wire") with an independent CRC32C and protobuf encoding, so the decoder
is tested on inputs its own encoder never makes. WireTests replays every file there (and whatever `make fuzz` ever
found) and expects no crash, and checks the values of the well-formed chunks. They seed `make fuzz` too.
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


def field(number, wire_type, body):
    """A protobuf field: a varint (wire type 0, body an int) or length-delimited (wire type 2, body bytes)."""
    tag = varint(number << 3 | wire_type)
    return tag + (varint(body) if wire_type == 0 else varint(len(body)) + body)


def weight_chunk(data, elements, dtype=1, data_filter=0, version=7, base=0, offset=0):
    """A WeightChunk payload (chunk 0, of `elements` elements) whose tensor is those elements of `dtype` (1 FLOAT32,
    4 BFLOAT16) in `data`, with the tensor's filter field (1 byte-shuffled, 2 sparse) when not 0."""
    tensor = field(1, 0, dtype) + field(2, 2, varint(elements)) + field(3, 2, data)
    if data_filter:
        tensor += field(4, 0, data_filter)
    chunk = field(1, 0, version) + field(2, 0, 0) + field(3, 0, elements) + field(4, 0, offset) + field(5, 2, tensor)
    return chunk + (field(6, 0, base) if base else b"")


def weight_chunks():
    """Weight chunks that a receiver reads in place (before their checksum is checked): the filters and the
    delta as this script encodes them, and damaged ones. WireTests checks the values each one gives."""
    floats = struct.pack("<4f", 1.0, -2.0, 0.5, 3.25)
    # Byte-shuffled: byte 0 of every element, then byte 1 of every element, and so on.
    shuffled = bytes(floats[4 * e + b] for b in range(4) for e in range(4))
    write("chunk-shuffled.frame", frame(14, weight_chunk(shuffled, 4, data_filter=1)))
    # Sparse: a bitmap of 10 elements (bits 1, 4 and 9 set, lowest bit first), then their 3 values.
    bitmap = bytes([0b00010010, 0b00000010])
    values = struct.pack("<3f", 1.5, -4.0, 8.0)
    write("chunk-sparse.frame", frame(14, weight_chunk(bitmap + values, 10, data_filter=2)))
    # An XOR delta of 8 bfloat16 elements against version 6.
    delta = bytes(range(1, 17))
    write("chunk-delta-bf16.frame", frame(14, weight_chunk(delta, 8, dtype=4, base=6)))
    # A sparse bitmap with 5 bits set but only 2 values after it.
    short = bytes([0b00011111]) + struct.pack("<2f", 1.0, 2.0)
    write("chunk-sparse-short.frame", frame(14, weight_chunk(short, 8, data_filter=2)))
    # A plain chunk whose last data byte was flipped after the checksum was taken.
    good = bytearray(frame(14, weight_chunk(floats, 4)))
    good[-1] ^= 0x40
    write("chunk-damaged.frame", bytes(good))


def main():
    os.makedirs(OUT, exist_ok=True)
    weight_chunks()
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
