"""The hook's spool directories as the tests see them: where a script's spool is, and what its
records hold (the dead letters, mostly), read with the format documented in src/spool/spool.h
and src/spool/event_record.h.

    <spool-dir>/runscript-dhcp4/<script path, '/' -> '_', without the leading one>/
        *.seg            segments: records, oldest first
        cursor           where delivery resumes
        dead-letters/    events set aside after max-attempts failed deliveries, same format

A record: u32 magic "RSR1", u32 payload length, u64 sequence number, u32 CRC-32C, u32 zero
(little endian), then the payload, an event: u8 version, u8 attempts, u16 hook length, u32
number of keys (0xffffffff: every key, none follow), u32 number of variables, the hook, the keys
(u64 each), the variables (u32 length, then "NAME=value"). Reading stops at the first record of
a segment that does not hold together (a torn tail); nothing here checks the CRC: the library
does, and these files are the library's own.
"""

import glob
import os
import struct
from dataclasses import dataclass, field

MAGIC = b"RSR1"
_HEADER = struct.Struct("<4sIQII")
_EVENT = struct.Struct("<BBHII")
_EVERY_KEY = 0xFFFFFFFF


@dataclass
class Event:
    """One spooled event."""
    seq: int
    hook: str
    attempts: int   # failed deliveries before it was written (or set aside)
    env: dict = field(repr=False)  # name -> value, as str (undecodable bytes via surrogateescape)


def script_dir(spool_dir, script, version=4, nth=1):
    """The directory of `script`'s spool under `spool_dir` (the nth entry with that path)."""
    name = str(script).lstrip("/").replace("/", "_") + ("" if nth == 1 else f".{nth}")
    return os.path.join(str(spool_dir), f"runscript-dhcp{version}", name)


def dead_letter_dir(spool_dir, script, version=4, nth=1):
    return os.path.join(script_dir(spool_dir, script, version, nth), "dead-letters")


def events(directory):
    """Every whole record in the segments of `directory`, oldest first, decoded ([] if there
    is no such directory)."""
    found = []
    for path in sorted(glob.glob(os.path.join(str(directory), "*.seg"))):
        with open(path, "rb") as f:
            data = f.read()
        offset = 0
        while offset + _HEADER.size <= len(data):
            magic, length, seq, _crc, _zero = _HEADER.unpack_from(data, offset)
            end = offset + _HEADER.size + length
            if magic != MAGIC or end > len(data):
                break
            found.append(_event(seq, data[offset + _HEADER.size:end]))
            offset = end
    return found


def _event(seq, payload):
    _version, attempts, hook_len, nr_keys, nr_env = _EVENT.unpack_from(payload, 0)
    at = _EVENT.size
    hook = payload[at:at + hook_len].decode(errors="surrogateescape")
    at += hook_len + (0 if nr_keys == _EVERY_KEY else 8 * nr_keys)
    env = {}
    for _ in range(nr_env):
        (length,) = struct.unpack_from("<I", payload, at)
        name, _, value = payload[at + 4:at + 4 + length].partition(b"=")
        env[name.decode(errors="surrogateescape")] = value.decode(errors="surrogateescape")
        at += 4 + length
    return Event(seq=seq, hook=hook, attempts=attempts, env=env)


def segments(directory):
    """The segment files in `directory`."""
    return sorted(glob.glob(os.path.join(str(directory), "*.seg")))
