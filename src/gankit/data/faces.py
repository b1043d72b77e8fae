"""The LFW face crops of the shared data folder, read as an image folder labelled with their expression."""
from __future__ import annotations

from dataclasses import replace

from gankit.core.errors import GankitError
from gankit.data.dataset import DataConfig, Dataset, data_roots
from gankit.data.folder import read_folder


def read_faces(cfg: DataConfig) -> Dataset:
    """The LFW face crops of the shared data folder (faces-lfw-crops/images), read as an image folder and
    labelled with their facial expression (labels.csv: neutral, happiness, surprise, ...); the 8 of 2,000
    crops without a usable label are left out."""
    for root in data_roots(cfg.data_dir):
        images = root / "faces-lfw-crops" / "images"
        if images.is_dir():
            labels = images.parent / "labels.csv"
            if not cfg.labels and labels.is_file():
                cfg = replace(cfg, labels=str(labels))
            # LFW's files are Name_Surname_0001.jpg: the person is all but the number
            data = read_folder(cfg, str(images), group_of=lambda stem: stem.rsplit("_", 1)[0])
            data.name = "faces"
            return data
    raise GankitError("faces: faces-lfw-crops/images not found; point --data-dir or GANKIT_DATA at the "
                      "folder holding it, or train on any folder with --data PATH")
