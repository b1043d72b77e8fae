#!/usr/bin/env bash
# The docs' faces pictures: the direction mean(smiling) - mean(neutral), from real photographs inverted into
# a trained faces generator, applied with alpha -1..3 to four held-out neutral faces and to four seeds.
#   gankit train --preset faces_dcgan --device cuda --out runs       # 5,000 steps: about 3 minutes on an H100
#   bash docs/scripts/faces_smile_direction.sh runs/00000-faces-dcgan out/ cuda
#   gankit train --preset faces_small --out runs                     # 32 px, 500 crops: a 2-core CPU
#   bash docs/scripts/faces_smile_direction.sh runs/00000-faces-dcgan out/ cpu
# Needs $GANKIT_DATA/faces-lfw-crops (images and labels.csv). Latents go to OUT_DIR too. The held-out faces
# are the last four neutral crops of the run's data.holdout split when it has one (faces_small), else the
# 201st to 204th neutral crops of labels.csv (faces_dcgan trains on every crop: held out of the groups only).
set -euo pipefail
RUN=$1; OUT=$2; DEVICE=${3:-auto}
L=$GANKIT_DATA/faces-lfw-crops/labels.csv; I=$GANKIT_DATA/faces-lfw-crops/images
mkdir -p "$OUT"
# --image arguments for the crops labelled $1, lines $2 (a sed range) of that label's rows in labels.csv
crops() { grep ",$1\$" "$L" | sed -n "$2p" | cut -d, -f2 | sed "s|^|--image $I/|" | tr '\n' ' '; }
heldout() {  # --image arguments for 4 neutral faces the run never trained on, written to $OUT as PNG
  python - "$RUN" "$OUT" <<'PY'
import json, sys
from pathlib import Path
from PIL import Image
from gankit.core.config import from_dict
from gankit.data import DataConfig, load_dataset
data = json.loads((Path(sys.argv[1]) / "config.json").read_text())["data"]
if not data.get("holdout"):
    sys.exit(0)
held = load_dataset(from_dict(DataConfig, {**data, "split": "holdout"}, "data"))
picks = (held.labels == held.class_names.index("neutral")).nonzero().view(-1)[-4:]
for i, j in enumerate(picks.tolist()):
    path = Path(sys.argv[2]) / f"heldout_neutral_{i}.png"
    pixels = held.x[j].permute(1, 2, 0).numpy()
    Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels).save(path)
    print("--image", path, end=" ")
PY
}
HELD=$(heldout); HELD=${HELD:-$(crops neutral 201,204)}
gankit latent invert "$RUN" --device "$DEVICE" $(crops happiness 1,64) --out "$OUT/smile_inv.png" --latents "$OUT/smile.npy"
gankit latent invert "$RUN" --device "$DEVICE" $(crops neutral 1,64) --out "$OUT/neutral_inv.png" --latents "$OUT/neutral.npy"
gankit latent invert "$RUN" --device "$DEVICE" $HELD --out "$OUT/heldout_inv.png" --latents "$OUT/heldout.npy"
direction=(--positive "npy:$OUT/smile.npy" --negative "npy:$OUT/neutral.npy" --alphas=-1,0,1,2,3)
gankit latent edit "$RUN" --device "$DEVICE" --latents "$OUT/heldout.npy" "${direction[@]}" --out "$OUT/faces_edit_heldout.png"
gankit latent edit "$RUN" --device "$DEVICE" --seeds 1,2,3,4 "${direction[@]}" --out "$OUT/faces_edit_seeds.png"
