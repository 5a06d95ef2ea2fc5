"""Reading a file the user named: only regular files, only bounded sizes, one clear line otherwise.

Every file a user hands kdsearch (space and cluster YAMLs, datasets, pickles, model files, a
results folder's space.yaml and meta.json) is checked here before it is opened: a named pipe
would block `open()` forever, a device could stream without end, a folder or an over-long name
raises an OSError whose traceback says nothing useful. Text files are read with a size cap and
decoded as UTF-8 with the offending byte named; JSON is parsed with its nesting bounded.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

from kdsearch.errors import UserError

# A space or cluster file is a page of YAML; a results folder's meta.json a few KB. 4 MiB is far
# above either and far below what a parser could not hold.
MAX_TEXT_BYTES = 4 * 1024 * 1024
# JSON nesting beyond this is not a kdsearch file (meta.json nests 3 deep); Python's parser
# would hit its recursion limit near 1000 and raise RecursionError.
MAX_JSON_DEPTH = 64

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def regular_file(path: str | os.PathLike, *, what: str = "file", field: str | None = None) -> Path:
    """`path` itself if it is a regular file (symlinks followed); else UserError naming it.

    Raises:
        UserError: missing ("no such <what>"), a folder, pipe, device or socket, a name too long
            for the file system, or a path through something that is not a folder.
    """
    file = os.fspath(path)
    if not file:
        raise UserError(f"an empty path is not a {what}", file="''", field=field)
    try:
        mode = os.stat(file).st_mode
    except OSError as exc:
        raise UserError(os_problem(exc, what), file=file, field=field) from None
    for test, kind in _KINDS:
        if test(mode):
            raise UserError(f"is {kind}, not a regular file (only regular files are read)", file=file, field=field)
    return Path(file)


def os_problem(exc: OSError, what: str = "file") -> str:
    """A few words for an OSError met reading a user's file."""
    if exc.errno == errno.ENOENT:
        return f"no such {what}"
    if exc.errno == errno.ENAMETOOLONG:
        return "file name too long for this file system"
    if exc.errno == errno.ENOTDIR:
        return "a part of this path is a file, not a folder"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return f"cannot read: {exc.strerror or exc}"


def read_user_bytes(path: str | os.PathLike, *, what: str = "file", limit: int = MAX_TEXT_BYTES,
                    field: str | None = None) -> bytes:
    """The bytes of a regular file of at most `limit` bytes.

    The file is opened non-blocking and checked again through its descriptor, so a pipe put in
    its place after `regular_file` still cannot block the read.
    """
    file = os.fspath(regular_file(path, what=what, field=field))
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise UserError(os_problem(exc, what), file=file, field=field) from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UserError("is not a regular file (only regular files are read)", file=file, field=field)
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise UserError(f"larger than {limit // (1024 * 1024)} MiB: not a {what} kdsearch reads", file=file,
                        field=field)
    return data


def read_user_text(path: str | os.PathLike, *, what: str = "file", limit: int = MAX_TEXT_BYTES,
                   field: str | None = None) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes; a byte that is not UTF-8 is
    named with its line and column instead of a UnicodeDecodeError traceback."""
    data = read_user_bytes(path, what=what, limit=limit, field=field)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise UserError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at column {column} (save the file as "
                        "UTF-8)", file=os.fspath(path), field=f"line {line}") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise UserError("a NUL byte: a binary file, not text", file=os.fspath(path), field=f"line {line}")
    return text


def load_user_json(path: str | os.PathLike, *, what: str = "JSON file") -> object:
    """Parse a bounded JSON file; malformed, too deep or too large is one UserError."""
    text = read_user_text(path, what=what)
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise UserError(f"nested {depth} levels deep (at most {MAX_JSON_DEPTH})", file=os.fspath(path))
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UserError(f"not readable JSON ({str(exc)[:120]})", file=os.fspath(path)) from None


def _json_depth(text: str) -> int:
    """Deepest bracket nesting outside strings (a linear scan: no recursion, no allocation)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def check_output_path(path: str | os.PathLike, *, field: str | None = None) -> None:
    """Refuse an output path no write could succeed at, before any work: empty, a name longer
    than file systems allow, or a path through a regular file (`good.h5/out.npy`)."""
    file = os.fspath(path)
    if not file.strip():
        raise UserError("an empty path: give the file or folder to write", file="''", field=field)
    if "\x00" in file:
        raise UserError("a path cannot hold a NUL character", file=file, field=field)
    for part in Path(file).parts:
        if len(os.fsencode(part)) > 255:
            raise UserError("file name too long for this file system (255 bytes a name)", file=file, field=field)
    for parent in Path(file).parents:
        try:
            mode = os.stat(parent).st_mode
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):  # missing, or below a file: look further up
                continue
            raise UserError(os_problem(exc), file=file, field=field) from None
        if not stat.S_ISDIR(mode):
            raise UserError(f"{os.fspath(parent)!r} is a file, not a folder", file=file, field=field)
        break
