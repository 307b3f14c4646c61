"""Small dataset files in the real formats (written by the tests themselves)."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

from PIL import Image


def png(colour, size=16) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg(colour, size=16) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def write_pickapic(path: Path, users=4, per_user=6, corrupt_rows=()) -> Path:
    """Pick-a-Pic parquet: users prefer red (even users) or blue (odd users) images."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for u in range(users):
        for n in range(per_user):
            red, blue = jpeg((200, 30 + n, 30)), jpeg((30, 30 + n, 200))
            likes_red = u % 2 == 0
            tie = n == per_user - 1
            label_0 = 0.5 if tie else (1.0 if likes_red else 0.0)
            rows.append({"caption": f"a picture {n}", "jpg_0": red, "jpg_1": blue, "label_0": label_0,
                         "label_1": 1 - label_0, "user_id": u, "ranking_id": len(rows), "has_label": True,
                         "image_0_uid": f"r{n}", "image_1_uid": f"b{n}", "model_0": "m", "model_1": "m"})
    for r in corrupt_rows:
        rows[r]["jpg_1"] = b"not an image"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def write_hpsv2(folder: Path, entries=3, missing=False) -> tuple[Path, Path]:
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    train, test = [], []
    for n in range(entries):
        for j, colour in enumerate([(200, 0, 0), (0, 0, 200), (0, 200, 0)]):
            (images / f"{n}-{j}.png").write_bytes(png((colour[0], colour[1], colour[2] - n)))
        train.append({"prompt": f"prompt {n}", "file_path": [f"{n}-0.png", f"{n}-1.png"], "human_preference": [1, 0]})
        test.append({"prompt": f"prompt {n}", "image_path": [f"{n}-0.png", f"{n}-1.png", f"{n}-2.png"],
                     "rank": [1, 3, 2], "raw_annotations": []})
    if missing:
        train.append({"prompt": "lost", "file_path": ["nope.png", "0-0.png"], "human_preference": [0, 1]})
    (folder / "train.json").write_text(json.dumps(train))
    (folder / "test.json").write_text(json.dumps(test))
    return folder / "train.json", folder / "test.json"


def write_sac(folder: Path, missing_image=False) -> Path:
    db = folder / "sac.sqlite"
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE generations (id INTEGER PRIMARY KEY, sid INTEGER, method TEXT, prompt TEXT);
        CREATE TABLE images (id INTEGER PRIMARY KEY, gid INTEGER, idx INTEGER);
        CREATE TABLE paths (iid INTEGER, path TEXT);
        CREATE TABLE ratings (sid INTEGER, iid INTEGER, rating INTEGER);
    """)
    (folder / "imgs").mkdir(exist_ok=True)
    for g in range(2):
        con.execute("INSERT INTO generations VALUES (?, ?, 'cfg', ?)", (g, g, f"a scene {g}"))
        for i in range(2):
            iid = g * 2 + i
            con.execute("INSERT INTO images VALUES (?, ?, ?)", (iid, g, i))
            con.execute("INSERT INTO paths VALUES (?, ?)", (iid, f"imgs/{iid}.png"))
            if not (missing_image and iid == 3):
                (folder / "imgs" / f"{iid}.png").write_bytes(png((60 * iid, 10, 10)))
            for rater in range(3):
                con.execute("INSERT INTO ratings VALUES (?, ?, ?)", (rater, iid, 1 + (iid * 3 + rater) % 10))
    con.execute("INSERT INTO ratings VALUES (9, 99, 5)")  # rating of an unknown image
    con.commit()
    con.close()
    return db


def write_trajectories(folder: Path, sessions=2, turns=3, slate=3, m=2) -> Path:
    from pasta_core import Candidate, Trajectory, Turn
    from pasta_core.store import write_trajectories as write

    trajectories = []
    for s in range(sessions):
        turn_list = []
        for t in range(turns):
            refs = []
            for j in range(slate):
                column = []
                for k in range(m):
                    ref = f"images/s{s}/t{t}/c{j}-{k}.png"
                    (folder / ref).parent.mkdir(parents=True, exist_ok=True)
                    (folder / ref).write_bytes(png((80 * j, 40 * k, 50 * t)))
                    column.append(ref)
                refs.append(column)
            cands = [Candidate(f"prompt {s} {t} {j}", f"cat{j}") for j in range(slate)]
            turn_list.append(Turn(cands, cands, choice=t % slate, image_refs=refs,
                                  comparison=None if t == 0 else "better"))
        trajectories.append(Trajectory(f"sess{s}", "a white cat", turn_list, user_type=s % 2))
    return write(folder / "trajectories.parquet", trajectories)
