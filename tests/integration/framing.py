"""Writers of the record framings batch transform reads (contract section 4), for tests and
the fuzz corpus: MXNet RecordIO (magic, cflag + length, payload padded to 4 bytes) and
TFRecord (length, masked CRC-32C of the length, data, masked CRC-32C of the data)."""
import struct

RECORDIO_MAGIC = 0xCED7230A


def recordio_part(data: bytes, cflag: int) -> bytes:
    """One RecordIO part; cflag 0 whole, 1 start, 2 middle, 3 end of a multi-part record."""
    header = struct.pack("<II", RECORDIO_MAGIC, (cflag << 29) | len(data))
    return header + data + b"\0" * (-len(data) % 4)


def recordio(records: list[bytes]) -> bytes:
    return b"".join(recordio_part(r, 0) for r in records)


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC32C[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord(records: list[bytes]) -> bytes:
    out = b""
    for r in records:
        length = struct.pack("<Q", len(r))
        out += length + struct.pack("<I", masked_crc(length)) + r + struct.pack("<I", masked_crc(r))
    return out
