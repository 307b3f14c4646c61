"""The trajectory Parquet format: round trips, folders of files, streaming."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pasta_core import SessionError, Trajectory
from pasta_core.store import SCHEMA, read_trajectories, write_trajectories
from pasta_core.testing import strategies as pst


@st.composite
def trajectories(draw):
    history = draw(pst.histories(max_turns=4).filter(lambda h: h.turns))
    user_type = draw(st.one_of(st.none(), st.integers(0, 63)))
    return Trajectory(draw(st.uuids()).hex, history.initial_prompt, history.turns, user_type, {"seed": 3})


@settings(max_examples=25)
@given(st.lists(trajectories(), min_size=1, max_size=4, unique_by=lambda t: t.session_id))
def test_round_trip(tmp_path_factory, items):
    path = tmp_path_factory.mktemp("store") / "t.parquet"
    write_trajectories(path, items)
    back = list(read_trajectories(path))
    assert back == items
    assert [t.metadata for t in back] == [t.metadata for t in items]


def test_file_is_plain_parquet_with_documented_schema(tmp_path, sample_trajectory):
    write_trajectories(tmp_path / "t.parquet", [sample_trajectory])
    table = pq.read_table(tmp_path / "t.parquet")
    assert table.schema.names == SCHEMA.names
    assert table.num_rows == len(sample_trajectory.turns)
    assert table.column("turn").to_pylist() == list(range(1, len(sample_trajectory.turns) + 1))


def test_a_folder_reads_its_files_in_name_order(tmp_path, sample_trajectory):
    import attrs

    items = [attrs.evolve(sample_trajectory, session_id=f"s{i}") for i in range(7)]
    for part, start in enumerate(range(0, 7, 3)):
        write_trajectories(tmp_path / "out" / f"part-{part:05d}.parquet", items[start : start + 3])
    assert [t.session_id for t in read_trajectories(tmp_path / "out")] == [f"s{i}" for i in range(7)]


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(SessionError, match="no trajectory file"):
        list(read_trajectories(tmp_path / "nope.parquet"))


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated", "foreign", "mistyped", "bad-row"])
def test_a_file_that_is_not_a_trajectory_file_is_refused_naming_it(tmp_path, sample_trajectory, damage):
    import pyarrow as pa

    path = tmp_path / "t.parquet"
    write_trajectories(path, [sample_trajectory])
    if damage == "garbage":
        path.write_bytes(b"not parquet at all")
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-12])
    elif damage == "foreign":
        pq.write_table(pa.table({"caption": ["a"], "label_0": [1.0]}), path)
    elif damage == "mistyped":
        table = pq.read_table(path)
        pq.write_table(table.set_column(table.schema.get_field_index("choice"), "choice",
                                        pa.array(["x"] * table.num_rows)), path)
    else:  # a choice outside the slate: the row breaks the format's rules
        table = pq.read_table(path)
        pq.write_table(table.set_column(table.schema.get_field_index("choice"), "choice",
                                        pa.array([9] * table.num_rows, pa.int32())), path)
    with pytest.raises(SessionError) as caught:
        list(read_trajectories(path))
    assert str(path) in str(caught.value)


def test_older_or_wider_files_still_read(tmp_path, sample_trajectory):
    """Optional columns may be missing, integers may be wider and strings large."""
    import pyarrow as pa

    path = tmp_path / "t.parquet"
    write_trajectories(path, [sample_trajectory])
    table = pq.read_table(path).drop_columns(["satisfaction", "comparison", "metadata"])
    table = table.set_column(table.schema.get_field_index("turn"), "turn", table.column("turn").cast(pa.int64()))
    table = table.set_column(table.schema.get_field_index("session_id"), "session_id",
                             table.column("session_id").cast(pa.large_string()))
    pq.write_table(table, path)
    (back,) = read_trajectories(path)
    assert back.session_id == sample_trajectory.session_id and len(back.turns) == len(sample_trajectory.turns)
