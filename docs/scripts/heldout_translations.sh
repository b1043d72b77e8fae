#!/usr/bin/env bash
# The image-to-image pictures of the docs: a run's held-out pairs, each source (a drawing, a small image)
# beside the run's output and the real target, as `gankit eval` writes them (heldout.png), copied under
# docs/images with the preset's name.
#   gankit train --preset faces_edges2photo --out runs       # 3,000 steps: 483 s on one core beside another run
#   (seed 0's train_seconds in benchmarks/results/image_to_image/faces_edges2photo_flip_3seeds_cpu.json)
#   bash docs/scripts/heldout_translations.sh runs/00000-edges_faces-pix2pix faces_edges2photo
# The pictures in the docs are of seed 0's runs kept by benchmarks/image_to_image.py --keep: faces_edges2photo
# from faces_edges2photo_flip_3seeds_cpu; faces_sr4 and faces_sr4_pixel from faces_sr4_flip_3seeds_cpu, the GAN
# and its pixel-loss twin (--set loss.adversarial=0).
# Needs $GANKIT_DATA (the run's dataset). The pairs shown are the run's data.holdout split: no training saw
# them, and for the face presets no person in them is in the training crops (data.holdout_by=identity).
set -euo pipefail
RUN=$1; NAME=$2
gankit eval "$RUN" --n 500 > /dev/null
cp "$RUN/heldout.png" "$(dirname "$0")/../images/${NAME}_heldout.png"
