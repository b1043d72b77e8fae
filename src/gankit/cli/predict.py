"""`gankit predict`: a run trained on clips continues each input clip by its next frames."""
from __future__ import annotations

import argparse
import json

from gankit.cli.common import add_generator_options, add_reckon_within, add_whole_pixels, open_generator

PREDICT_EXAMPLES = """examples (a run trained on clips: --data moving_mnist_small, moving_mnist or clips:PATH):
  gankit predict runs/<run> --input clips.npy --out next.npy              # uint8 [N, T, H, W] -> [N, K, H, W]
  gankit predict runs/<run> --input clip.gif --out next.gif --frames 20   # beyond the trained horizon: fed back
  gankit predict runs/<run> --input gifs/ --out predicted/                # one GIF each, same names
  gankit predict runs/<run> --input clips.npy --out next.npy --whole-pixels 0.75   # a whole-digit run, sharper
  gankit predict runs/<run> --input clips.npy --out next.npy --reckon-within 2.5   # moves read off the digits' paths
"""


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="continue clips by their next frames with a run trained on clips",
                       epilog=PREDICT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run directory or checkpoint file of a frame-prediction run")
    p.add_argument("--input", required=True, help="a .npy of uint8 [N, T, H, W] or [N, T, H, W, C], a GIF or a "
                                                  "video file (videos need PyAV: gankit[video]), or a folder of "
                                                  "them (or of frame folders)")
    p.add_argument("--out", required=True, help="the same kind: NAME.npy, NAME.gif or a folder (a video's "
                                                "predictions are written as GIFs: lossless)")
    p.add_argument("--frames", type=int, default=0, help="frames to predict (default: the run's horizon; more are "
                                                         "predicted by feeding predictions back)")
    p.add_argument("--seed", type=int, default=0, help="the noise G adds: another seed, another future")
    add_whole_pixels(p)
    add_reckon_within(p)
    add_generator_options(p)


def run(args) -> int:
    from gankit.latent.predict import predict_clips, read_input, set_readings, write_predictions

    generator = open_generator(args)
    reading = set_readings(generator, args.whole_pixels, args.reckon_within)
    clips = read_input(args.input)
    frames = args.frames or (generator.clip[1] if generator.clip else 1)
    pred = predict_clips(generator, clips, frames, seed=args.seed)
    written = write_predictions(pred, clips, args.out, force=args.force)
    print(json.dumps({"n": len(pred), "frames": frames, "seed": args.seed,
                      **reading, "out": args.out, "files": len(written)}))
    return 0
