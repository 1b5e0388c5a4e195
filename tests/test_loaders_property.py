"""Every dataset loader fed broken files (Hypothesis): valid small files of each format are cut short, overwritten
with random bytes, given random lines, or (gzipped ones) truncated mid-stream; loading then either gives a dataset
or raises `DataFormatError` whose message starts with the broken file's path (and, when it names a line, reads
`path:line:`), never another exception. Budget: `tests.fuzz_budget.examples` per property."""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.data.loaders.amazon_raw import load_amazon_raw
from model.data.loaders.grouplens import load_grouplens
from model.data.loaders.lcrec import load_lcrec
from model.data.loaders.recbole import load_recbole
from model.data.processed import load_processed, save_processed
from model.data.records import InteractionDataset, Item
from model.errors import DataFormatError
from tests.fuzz_budget import examples

_REVIEWS = [
    {"reviewerID": u, "asin": a, "unixReviewTime": t, "overall": 5.0}
    for u, a, t in [("U1", "B1", 3), ("U1", "B2", 1), ("U2", "B1", 2), ("U2", "B2", 5), ("U3", "B1", 4)]
]
_META = [{"asin": "B1", "title": "Gloves", "description": ["a", "b"]}, {"asin": "B2", "title": "Box", "brand": "X"}]


def _jsonl(records: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def _processed_files() -> dict[str, bytes]:
    ds = InteractionDataset("toy", [Item(i, str(10 + i), f"t{i}") for i in range(4)], ["a", "b"], [[0, 1], [2, 3, 1]])
    with tempfile.TemporaryDirectory() as tmp:
        save_processed(ds, Path(tmp), source="test")
        return {p.name: p.read_bytes() for p in Path(tmp).iterdir()}


# format name -> (valid files, loader called with the folder)
FORMATS: dict[str, tuple[dict[str, bytes], Callable[[Path], InteractionDataset]]] = {
    "grouplens": (
        {
            "u.data": b"196\t2\t3\t881250949\n186\t1\t3\t891717742\n196\t1\t5\t881250000\n",
            "u.item": "1|Toy Story (1995)|01-Jan-1995||http://x|0|1\n2|Café (1997)|05-May-1997||http://x|1|0\n".encode(
                "latin-1"
            ),
        },
        load_grouplens,
    ),
    "recbole": (
        {
            "toy.inter": b"user_id:token\titem_id:token\ttimestamp:float\nu1\t10\t200\nu1\t2\t100\nu2\t10\t300\n",
            "toy.item": b"item_id:token\tmovie_title:token_seq\n10\tAlpha\n2\tBeta\n",
        },
        load_recbole,
    ),
    "lcrec": (
        {
            "Toy.inter.json": json.dumps({"0": [2, 0, 1], "1": [1, 2]}, indent=1).encode(),
            "Toy.item.json": json.dumps({"0": {"title": "P"}, "1": {"title": "B"}, "2": {"title": "F"}}).encode(),
        },
        load_lcrec,
    ),
    "amazon": (
        {"Toys.json": _jsonl(_REVIEWS), "meta_Toys.json": _jsonl(_META)},
        lambda folder: load_amazon_raw(folder, k_core=1),
    ),
    "amazon-gz": (
        {"Toys.json.gz": gzip.compress(_jsonl(_REVIEWS)), "meta_Toys.json.gz": gzip.compress(_jsonl(_META))},
        lambda folder: load_amazon_raw(folder, k_core=1),
    ),
    "processed": (_processed_files(), lambda folder: load_processed(folder)[0]),
}


@st.composite
def broken(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` damaged one of several ways (each keeps the file's length small)."""
    how = draw(st.sampled_from(["cut", "overwrite", "insert-line", "replace-line", "flip"]))
    if how == "cut":
        return data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    if how == "overwrite":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=20)) + data[at + 20 :]
    if how == "flip":
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :] if data else data
    lines = data.split(b"\n")
    at = draw(st.integers(0, len(lines) - 1))
    junk = draw(
        st.one_of(
            st.binary(max_size=40).filter(lambda b: b"\n" not in b),
            st.text(max_size=40).map(lambda t: t.replace("\n", " ").encode()),
            st.sampled_from([b"{}", b"[]", b"null", b'{"asin": 5}', b"1\t2", b"\t\t\t", b"x|y|z", b'"\\ud800"']),
        )
    )
    if how == "insert-line":
        lines.insert(at, junk)
    else:
        lines[at] = junk
    return b"\n".join(lines)


def _check(folder: Path, damaged: str, load: Callable[[Path], InteractionDataset]) -> None:
    try:
        load(folder)
    except DataFormatError as exc:
        message = str(exc)
        assert message.startswith(str(folder)), message  # names a file of the dataset
        if exc.line is not None:
            assert f"{exc.path}:{exc.line}:" in message
        assert exc.path.name in {damaged, *(p.name for p in folder.iterdir())} or exc.path == folder


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_broken_files_raise_data_format_errors_naming_the_file(fmt: str, data: st.DataObject) -> None:
    files, load = FORMATS[fmt]
    name = data.draw(st.sampled_from(sorted(files)), label="file")
    content = data.draw(broken(files[name]), label="content")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for other, valid in files.items():
            (folder / other).write_bytes(content if other == name else valid)
        _check(folder, name, load)
