"""Opt-in identity: enrol a person from a photo, match the clip's track to them, forget them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import sqlalchemy as sa
from skimage import data

from ferlab.errors import FerlabError
from ferlab.monitor.identity import Identity, enrol, forget
from ferlab.monitor.run import Monitor
from ferlab.monitor.sources import VideoFile, parse_start
from ferlab.monitor.store import embeddings, hourly, observations, open_store, people, tracks

from .conftest import CLIP_SECONDS, START

pytest.importorskip("dlib", reason='identity needs the dlib extra: pip install -e ".[dlib]"')


def test_enrol_match_and_forget(clip: Path, analyzer, tmp_path: Path) -> None:
    photo = tmp_path / "ada.png"
    cv2.imwrite(str(photo), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    store = open_store(str(tmp_path / "m.db"))
    person = enrol(store, "ada", [photo])
    (row,) = store.query(sa.select(embeddings.c.vector))
    assert np.frombuffer(row["vector"], np.float32).shape == (128,)
    Monitor(store, analyzer, crops_dir=tmp_path / "crops", identity=Identity.load(store)).run(
        VideoFile(clip, parse_start(START))
    )
    rows = store.query(sa.select(observations.c.person_id, observations.c.crop))
    assert len(rows) == CLIP_SECONDS and {r["person_id"] for r in rows} == {person}
    assert store.query(sa.select(people.c.last_seen_ms))[0]["last_seen_ms"] is not None
    crops = [Path(r["crop"]) for r in rows]
    assert all(crop.is_file() for crop in crops)
    assert forget(store, "ada") == (CLIP_SECONDS, CLIP_SECONDS)
    assert store.query(sa.select(observations)) == [] and store.query(sa.select(embeddings)) == []
    assert store.query(sa.select(people)) == [] and not any(crop.exists() for crop in crops)
    assert store.query(sa.select(hourly)) == []  # the dashboard's counts forget too
    assert store.query(sa.select(tracks.c.person_id)) == [{"person_id": None}]  # the track stays, anonymous
    with pytest.raises(FerlabError, match="no enrolled person called 'ada'"):
        forget(store, "ada")
    store.close()


def test_enrolment_photo_must_show_one_face(tmp_path: Path) -> None:
    photo = tmp_path / "cup.png"
    cv2.imwrite(str(photo), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))
    store = open_store(str(tmp_path / "m.db"))
    with pytest.raises(FerlabError, match=rf"^{photo}: 0 faces found; an enrolment photo must show exactly one$"):
        enrol(store, "bob", [photo])
    assert store.query(sa.select(people)) == []
    assert Identity.if_enrolled(store) is None
    store.close()
