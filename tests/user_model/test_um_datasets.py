"""Dataset readers on small files in the real formats; bad rows counted or, strict, raised."""

from __future__ import annotations

import json

import pytest

from pasta_clip_em.datasets import (
    DatasetError,
    ReadReport,
    read_hpsv2_test,
    read_hpsv2_train,
    read_pasta_release,
    read_pickapic,
    read_sac,
    read_sessions,
)
from tests.user_model.fixtures import (
    png,
    write_hpsv2,
    write_pickapic,
    write_sac,
    write_trajectories,
)


def test_pickapic_pairs_ties_and_raters(tmp_path):
    path = write_pickapic(tmp_path / "pap.parquet", users=2, per_user=3)
    records = list(read_pickapic(path))
    assert len(records) == 6
    assert {r.sample for r in records} == {"pickapic-user-0", "pickapic-user-1"}
    assert [r.target for r in records[:3]] == [1.0, 1.0, 0.5]
    assert records[0].image_a.startswith(b"\xff\xd8")


def test_pickapic_corrupt_rows_are_counted_or_stop_strict_runs(tmp_path):
    path = write_pickapic(tmp_path / "pap.parquet", users=2, per_user=3, corrupt_rows=(1, 4))
    report = ReadReport("pap")
    assert len(list(read_pickapic(path, report=report))) == 4
    assert report.skipped == 2 and "row 1" in report.examples[0]
    assert "2 missing or corrupt image bytes" in report.summary()
    with pytest.raises(DatasetError, match="row 1"):
        list(read_pickapic(path, strict=True))


def test_pickapic_wrong_file_is_an_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": [1]}), tmp_path / "other.parquet")
    with pytest.raises(DatasetError, match="not a Pick-a-Pic"):
        list(read_pickapic(tmp_path / "other.parquet"))


def test_hpsv2_train_and_test(tmp_path):
    train, test = write_hpsv2(tmp_path, entries=2, missing=True)
    report = ReadReport()
    pairs = list(read_hpsv2_train(train, tmp_path / "images", report=report))
    assert len(pairs) == 2 and pairs[0].image_a.name == "0-0.png" and pairs[0].target == 1.0
    assert report.skipped == 1 and "missing image nope.png" in report.summary()
    with pytest.raises(DatasetError, match="entry 2"):
        list(read_hpsv2_train(train, tmp_path / "images", strict=True))
    groups = list(read_hpsv2_test(test, tmp_path / "images"))
    assert groups[0].ranks == (1.0, 3.0, 2.0)
    flipped = list(read_hpsv2_test(test, tmp_path / "images", higher_is_better=True))
    assert flipped[0].ranks == (3.0, 1.0, 2.0)


def test_sac_ratings(tmp_path):
    db = write_sac(tmp_path, missing_image=True)
    report = ReadReport()
    records = list(read_sac(db, tmp_path, report=report))
    assert len(records) == 9 and records[0].prompt == "a scene 0" and 1 <= records[0].rating <= 10
    assert report.reasons["rating of an unknown image"] == 1 and report.skipped == 4
    with pytest.raises(DatasetError):
        list(read_sac(db, tmp_path, strict=True))


def test_project_trajectories_resolve_images(tmp_path):
    path = write_trajectories(tmp_path)
    sessions = list(read_sessions(path))
    assert len(sessions) == 2
    assert all(p.startswith(str(tmp_path)) for p in sessions[0].turns[0].image_refs[0])
    next(tmp_path.glob("images/s1/t2/*.png")).unlink()
    report = ReadReport()
    assert len(list(read_sessions(path, report=report))) == 1 and report.skipped == 1


def _release_rows(tmp_path):
    """ASSUMED SCHEMA: the released PASTA data's layout is unpublished; this fixture guesses
    one row per turn with these names (see pasta_clip_em/datasets/pasta_release.py)."""
    (tmp_path / "img").mkdir()
    rows = []
    for s in range(2):
        for t in range(2):
            refs = []
            for j in range(2):
                name = f"img/{s}{t}{j}.png"
                (tmp_path / name).write_bytes(png((100 * j, 50 * t, 20 * s)))
                refs.append([name])
            rows.append({"SessionId": f"h{s}", "turn_number": t + 1, "user_prompt": "a dog on a beach",
                         "expanded_prompts": json.dumps([f"dog {t} a", f"dog {t} b"]), "selected_index": 2,
                         "image_paths": refs, "feedback": "more sun" if t else None, "rater_age": 30})
    return rows


def test_release_reader_maps_columns_by_name_and_reports_the_rest(tmp_path):
    rows = _release_rows(tmp_path)
    (tmp_path / "sessions.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    report = ReadReport()
    sessions = list(read_pasta_release(tmp_path / "sessions.jsonl", report=report))
    assert len(sessions) == 2 and sessions[0].initial_prompt == "a dog on a beach"
    assert sessions[0].turns[1].choice == 1  # 1-based choices detected
    assert sessions[0].turns[1].critique == "more sun"
    assert report.unmapped == ["rater_age"]


def test_release_reader_names_missing_columns(tmp_path):
    (tmp_path / "bad.jsonl").write_text(json.dumps({"session": "x", "foo": 1}))
    with pytest.raises(DatasetError, match="cannot find column"):
        list(read_pasta_release(tmp_path / "bad.jsonl"))
