#!/usr/bin/env bash
# The README's faces pictures: the direction mean(smiling) - mean(neutral), from real photographs inverted into
# a trained faces generator, applied with alpha -1..3 to four held-out neutral faces and to four seeds.
#   gankit train --preset faces_dcgan --device cuda --out runs       # 5,000 steps: about 3 minutes on an H100
#   bash docs/scripts/faces_smile_direction.sh runs/00000-faces-dcgan out/ cuda
# Needs $GANKIT_DATA/faces-lfw-crops (images and labels.csv). Latents go to OUT_DIR too.
set -euo pipefail
RUN=$1; OUT=$2; DEVICE=${3:-auto}
L=$GANKIT_DATA/faces-lfw-crops/labels.csv; I=$GANKIT_DATA/faces-lfw-crops/images
mkdir -p "$OUT"
# --image arguments for the crops labelled $1, lines $2 (a sed range) of that label's rows in labels.csv
crops() { grep ",$1\$" "$L" | sed -n "$2p" | cut -d, -f2 | sed "s|^|--image $I/|" | tr '\n' ' '; }
gankit latent invert "$RUN" --device "$DEVICE" $(crops happiness 1,64) --out "$OUT/smile_inv.png" --latents "$OUT/smile.npy"
gankit latent invert "$RUN" --device "$DEVICE" $(crops neutral 1,64) --out "$OUT/neutral_inv.png" --latents "$OUT/neutral.npy"
# held out: the 201st to 204th neutral crops, none of them in the group above
gankit latent invert "$RUN" --device "$DEVICE" $(crops neutral 201,204) --out "$OUT/heldout_inv.png" --latents "$OUT/heldout.npy"
direction=(--positive "npy:$OUT/smile.npy" --negative "npy:$OUT/neutral.npy" --alphas=-1,0,1,2,3)
gankit latent edit "$RUN" --device "$DEVICE" --latents "$OUT/heldout.npy" "${direction[@]}" --out "$OUT/faces_edit_heldout.png"
gankit latent edit "$RUN" --device "$DEVICE" --seeds 1,2,3,4 "${direction[@]}" --out "$OUT/faces_edit_seeds.png"
