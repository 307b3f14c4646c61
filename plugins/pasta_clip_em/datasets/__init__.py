"""Dataset readers: Pick-a-Pic, HPS v2, Simulacra Aesthetic Captions, this project's
trajectories and the released PASTA data.

Every reader streams records and fills a :class:`ReadReport` (rows read, rows skipped
and why, with locations); ``strict=True`` raises :class:`DatasetError` at the first
corrupt row or missing image instead.
"""

from pasta_clip_em.datasets.hpsv2 import read_hpsv2_test, read_hpsv2_train
from pasta_clip_em.datasets.pasta_release import read_pasta_release
from pasta_clip_em.datasets.pickapic import read_pickapic
from pasta_clip_em.datasets.records import PairRecord, RankingRecord, RatingRecord
from pasta_clip_em.datasets.report import DatasetError, ReadReport
from pasta_clip_em.datasets.sac import read_sac
from pasta_clip_em.datasets.trajectories import read_sessions

__all__ = [
    "DatasetError",
    "PairRecord",
    "RankingRecord",
    "RatingRecord",
    "ReadReport",
    "read_hpsv2_test",
    "read_hpsv2_train",
    "read_pasta_release",
    "read_pickapic",
    "read_sac",
    "read_sessions",
]
