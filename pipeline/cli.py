"""``product-scene``: the command line.

Exit codes, one rule for every command (applied in :func:`main`): 0 when the command ran (for
``run``, even if items failed the gate or were bad files); 2 for usage or configuration errors
(argparse, or any :class:`~pipeline.config.errors.ConfigError`: a bad config, preset, theme,
backend name or batch id), always before anything is listed or written; 1 when the command itself
could not run; 130 when interrupted; ``publish`` exits 3 when a product needs attention (live but
no longer approved, or approved but refused or failed).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline import __version__

log = logging.getLogger("pipeline.cli")

EPILOG_RUN = """\
examples:
  product-scene run photos/ out/                       # folder in, folder out, studio backend
  product-scene run photos/ out/ --theme marble-counter --size 1080x1350
  product-scene run s3://shop/incoming/ s3://shop/out/ --config configs/default.yaml
  product-scene run s3://shop/incoming/ out/ --endpoint-url http://127.0.0.1:8333   # S3-compatible server
  product-scene run photos/ out/ --backend diffusion --config configs/sd15.yaml
  product-scene run photos/ out/ --workers 2 --format jpeg --quality 88   # two processes, JPEG composites

Each run writes OUT/<batch_id>/<item>/{composite,mask,canny,depth}.png + meta.json, and
OUT/<batch_id>/report.{html,json,csv}. OUT/_ledger remembers what is done: running the same
command again (after a crash, or when new photos arrive) processes only what is new or
changed, without reading the photos already done; with nothing new it writes nothing.
--reprocess does everything again. A run that was killed or interrupted gets its report from
the next run. A photo may carry a sidecar <name>.json next to it:
{"sku": "MUG-12", "category": "mug", "colour": "blue", "logo_boxes": [[x0, y0, x1, y1], ...]}.
Every file under SOURCE gets a row in the report (a bad file gets its reason), except sidecars
and what is listed as ignored with its rule (folders starting with _ or ., hidden files, .json
files without a photo). Exit code 0 means the batch ran; look at the report for items that
failed or were bad files.
"""


EPILOG_REVIEW = """\
examples:
  product-scene review out/                                       # one queue over every batch in out/
  product-scene review out/<batch_id>                             # the same queue, that batch's products only
  product-scene review out/ --open --reviewer alice               # open a browser; sign decisions as alice
  product-scene review s3://shop/out/ --endpoint-url http://127.0.0.1:8333
  product-scene review out/ --rebuild                             # rebuild a damaged catalogue first
  product-scene review out/ --source photos/                      # also fix cut-outs (F on the page)

A product is its source key (or the "sku" its sidecar names); each batch that processes it adds a
version. The queue shows each product's newest version that needs a decision, failures first,
with filters (batch, verdict, decision, "rejected before") and counts at the top. Decisions are
made on a version; a new version with the same bytes as a rejected one is rejected too, and a
product rejected before is never approved by "approve all passed". Keys (shown on the page):
  j / Down  next product       k / Up    previous product
  a         approve, go next   r         reject (then type a note, Enter saves and goes next)
  u         undecided          n         edit the note
  , .       older / newer version of the product
  s         side by side / slider     [ ]  move the slider
  + - 0     zoom in, out, fit        Shift+arrows  pan
  e         mask edges on the original          h   ΔE00 heat map on the composite
  1-9       show variant k (approving then picks it)
  v d b x   cycle the verdict, decision, batch filters; "rejected before" only
  f         fix the cut-out (needs --source): click or brush on the photo, K keep (product) /
            X remove (backdrop), Z undo, C back to the segmenter's mask, Enter saves the fix as a
            new version (undecided, signed by you), F or Esc leaves
Decisions go to DEST/_catalogue (compare-and-swap: several tabs or reviewers are safe) and to
each batch's _decisions/ journal. Then: product-scene publish DEST TARGET.
The server binds 127.0.0.1 on a free port; --host for anything else (a warning is printed).
"""

EPILOG_PUBLISH = """\
examples:
  product-scene publish out/ shop-images/                        # every product's newest approved version
  product-scene publish out/<batch_id> shop-images/              # that batch's products, by the same rules
  product-scene publish out/ s3://shop/live/ --strip-prefix incoming/
  product-scene publish out/ shop-images/ --withdraw              # also remove products with no approved version left

For each product, copies its newest approved version (the bytes and variant the reviewer approved)
to TARGET/<source key> with the composite's extension (shoes/red.jpg -> shoes/red.png), replacing
the file this catalogue put there before for the same product, and writes
TARGET/_manifests/products.json (+ one _manifests/<batch_id>.json per batch with a live version).
A file this catalogue did not put there is refused (the message says what is there) unless
--replace-foreign. A product that is live but has no approved version left is reported (exit 3)
and removed only with --withdraw. Every problem is reported per product; running it again
finishes the rest and changes nothing that is done.
"""


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1024x1024, got {text!r}") from None
    return w, h


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"--workers must be an integer >= 1, got {text!r}")
    return value


def _batch_id(text: str) -> str:
    from pipeline.batch.ids import check_batch_id

    try:
        return check_batch_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="product-scene",
        description="Turn product photos on white into product-in-scene images, with a consistency report.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="process every photo in SOURCE into scenes + a report in DEST",
                         description="Process every image under SOURCE and write scenes and reports to DEST.",
                         epilog=EPILOG_RUN, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("source", help="folder or fsspec URL with photos (jpg, png, webp, tiff, gif; heic and avif "
                                    "with their plugins); other image files get an error row")
    run.add_argument("dest", help="folder or fsspec URL for outputs")
    run.add_argument("--config", type=Path, help="YAML config (values over the defaults), or the name of a shipped "
                                                 "preset: default, sd15, sdxl, fast, fast-sdxl, fast-approx")
    run.add_argument("--theme", help="scene theme from configs/themes.yaml, e.g. paper-white, marble-counter")
    run.add_argument("--size", type=_size, metavar="WxH", help="output size in pixels, up to 2048 a side")
    run.add_argument("--aspect", help="output aspect when --size is not given: 1:1, 4:5, 3:4, 16:9, 9:16")
    run.add_argument("--backend", help="scene backend: studio (CPU, default) or diffusion")
    run.add_argument("--mode", choices=["exact", "harmonised"], help="product preservation mode")
    run.add_argument("--seed", type=int, help="base seed; each product derives its own from it")
    run.add_argument("--prefix", default="", help="only keys under this prefix of SOURCE")
    run.add_argument("--endpoint-url", help="S3-compatible endpoint for s3:// URLs (SeaweedFS, MinIO, ...); "
                                            "credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY")
    run.add_argument("--batch-id", type=_batch_id,
                     help="name of the batch folder: letters, digits, '.', '_', '-' (default: timestamp + random "
                          "suffix)")
    run.add_argument("--reprocess", action="store_true",
                     help="process every photo again, even those DEST's ledger records as done with this config")
    run.add_argument("--no-progress", action="store_true", help="plain log lines instead of a progress bar (the model "
                     "libraries' loading bars are off too)")
    run.add_argument("--workers", type=_workers, metavar="N",
                     help="worker processes, each loading the stages once (default: the CPU cores, capped by "
                          "free memory; 1 on a GPU)")
    run.add_argument("--format", choices=["png", "jpeg", "webp"],
                     help="composite file format (default png); masks and control maps are always PNG")
    run.add_argument("--quality", type=int, metavar="1-100", help="JPEG/WebP quality of the composite (default 90)")
    run.add_argument("--debug-outputs", action="store_true", default=None,
                     help="also write each item's control maps (canny.png, depth.png) for debugging a scene")

    samples = sub.add_parser("samples", parents=[common], help="write the generated sample product photos to DEST",
                             description="Draw the project's own sample product photos (with sidecars and "
                                         "ground-truth masks) into DEST.")
    samples.add_argument("dest", type=Path)
    samples.add_argument("--seed", type=int, default=0)

    doctor = sub.add_parser("doctor", parents=[common], help="which backends are usable here, and what is missing",
                            description="Check packages, weights, GPU and dtype support for each backend, "
                                        "and orchestration: Prefect, s3fs, PREFECT_API_URL, a bucket.")
    doctor.add_argument("--config", type=Path, help="config whose model sources to check (a file, or a shipped "
                                                    "preset name such as sd15)")
    doctor.add_argument("--bucket", metavar="URL", help="also check that this bucket (s3://shop/, a folder) can be "
                                                        "listed with this environment's credentials")
    doctor.add_argument("--endpoint-url", help="S3-compatible endpoint for --bucket (SeaweedFS, MinIO, ...)")

    review = sub.add_parser("review", parents=[common], help="review products in the browser: approve or reject",
                            description="Serve a destination's review queue on this machine: one entry per "
                                        "product across every batch, decided with the keyboard.",
                            epilog=EPILOG_REVIEW, formatter_class=argparse.RawDescriptionHelpFormatter)
    review.add_argument("dest", help="DEST (every batch `run` wrote there) or DEST/<batch_id> (that batch only); "
                                     "a folder or fsspec URL")
    review.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    review.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    review.add_argument("--open", action="store_true", help="open the page in a web browser")
    review.add_argument("--reviewer", help="name recorded with each decision (default: your OS user name)")
    review.add_argument("--rebuild", action="store_true",
                        help="rebuild DEST/_catalogue from the batch folders first (after damage or a restore)")
    review.add_argument("--endpoint-url", help="S3-compatible endpoint for s3:// URLs")
    review.add_argument("--source", metavar="SOURCE",
                        help="the folder or URL the batches read their photos from: lets reviewers fix cut-outs "
                             "on the page (each photo is checked against the bytes its batch processed)")

    publish = sub.add_parser("publish", parents=[common], help="copy each product's approved version to TARGET",
                             description="Copy the newest approved version of each product to TARGET, with "
                                         "manifests.",
                             epilog=EPILOG_PUBLISH, formatter_class=argparse.RawDescriptionHelpFormatter)
    publish.add_argument("dest", help="DEST (every product) or DEST/<batch_id> (the products of that batch)")
    publish.add_argument("target", help="folder or fsspec URL to publish into")
    publish.add_argument("--strip-prefix", default="", help="drop this leading folder from source keys, e.g. incoming/")
    publish.add_argument("--withdraw", action="store_true",
                         help="delete what this catalogue published for products with no approved version left")
    publish.add_argument("--replace-foreign", action="store_true",
                         help="overwrite target files this catalogue did not put there (refused by default)")
    publish.add_argument("--endpoint-url", help="S3-compatible endpoint for s3:// URLs")

    serve = sub.add_parser("serve", help="run the bucket flow on a schedule (Prefect)", add_help=False)
    serve.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    pairs = {
        "scene.theme": args.theme,
        "placement.size": args.size,
        "placement.aspect": args.aspect,
        "scene.backend": args.backend,
        "restore.mode": args.mode,
        "run.seed": args.seed,
        "output.format": getattr(args, "format", None),
        "output.quality": getattr(args, "quality", None),
        "output.debug_outputs": getattr(args, "debug_outputs", None),
    }
    return {k: v for k, v in pairs.items() if v is not None}


def _cmd_run(args: argparse.Namespace) -> int:
    from pipeline.batch import run_batch, validate_run
    from pipeline.batch.pool import default_workers
    from pipeline.config import load_config
    from pipeline.progress import batch_progress, quiet_library_progress

    if args.no_progress:
        quiet_library_progress()
    storage_options = {"endpoint_url": args.endpoint_url} if args.endpoint_url else None
    try:
        config = load_config(args.config).with_overrides(_overrides(args))
        validate_run(config, args.source, args.dest, prefix=args.prefix, storage_options=storage_options)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    workers = args.workers or default_workers(config)
    with batch_progress(enabled=not args.no_progress) as (on_start, on_item):
        batch_id, report, _ = run_batch(args.source, args.dest, config, prefix=args.prefix,
                                        batch_id=args.batch_id, progress=on_item, on_start=on_start,
                                        skip_done=not args.reprocess, workers=workers,
                                        storage_options=storage_options)
    s = report["summary"]
    ignored = sum(i["files"] for i in report["extra"].get("ignored", ()))
    if not report["paths"]:  # nothing new: no batch was written
        return 0
    log.info("batch %s: %d items, %d passed, %d failed, %d errors%s", batch_id, s["total"], s["passed"],
             s["failed"], s["errors"], f"; {ignored} files ignored (see report.json)" if ignored else "")
    sys.stdout.write(f"{report['paths']['html']}\n")
    from pipeline.review.folder import review_command

    log.info("next: %s   (one queue over every batch in %s)",
             review_command(args.dest, args.endpoint_url, source_url=args.source), args.dest)
    return 0


def _cmd_samples(args: argparse.Namespace) -> int:
    from pipeline.samples import write_samples

    paths = write_samples(args.dest, seed=args.seed)
    log.info("wrote %d sample photos to %s", len(paths), args.dest)
    sys.stdout.write(f"{args.dest}\n")
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from pipeline.config import load_config
    from pipeline.doctor import format_doctor, run_doctor

    checks = run_doctor(load_config(args.config), bucket=args.bucket, endpoint_url=args.endpoint_url)
    sys.stdout.write(format_doctor(checks) + "\n")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        from flows.serve import serve_main
    except ImportError as exc:
        log.error("`serve` needs the flows package and Prefect: %s", exc)
        return 2
    return int(serve_main(args.args) or 0)


def _storage(args: argparse.Namespace) -> dict[str, Any] | None:
    return {"endpoint_url": args.endpoint_url} if args.endpoint_url else None


def _cmd_review(args: argparse.Namespace) -> int:
    try:
        from review_server.serve import serve_review
    except ImportError as exc:
        log.error("`review` needs the review extra (pip install 'product-scene[review]'): %s", exc)
        return 2
    from pipeline.catalogue.store import CatalogueDamaged
    from pipeline.review.folder import NotABatchError

    def ready(url: str) -> None:
        sys.stdout.write(f"{url}\n")
        sys.stdout.flush()
        log.info("review page at %s (Ctrl-C stops the server)", url)

    try:
        serve_review(args.dest, host=args.host, port=args.port, reviewer=args.reviewer, open_browser=args.open,
                     storage_options=_storage(args), rebuild=args.rebuild, on_ready=ready, source=args.source)
    except (NotABatchError, CatalogueDamaged, ValueError) as exc:
        log.error("%s", exc)
        return 2
    except OSError as exc:
        log.error("cannot serve on %s:%s: %s", args.host, args.port, exc)
        return 2
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from pipeline.catalogue.store import CatalogueDamaged
    from pipeline.io.storage import Bucket, options_for_url
    from pipeline.review.folder import NotABatchError, open_destination
    from pipeline.review.publish import publish

    try:
        dest, batch = open_destination(args.dest, _storage(args))
        result = publish(dest, Bucket(args.target, options_for_url(args.target, _storage(args))), batch=batch,
                         strip_prefix=args.strip_prefix, withdraw=args.withdraw,
                         replace_foreign=args.replace_foreign)
    except (NotABatchError, CatalogueDamaged) as exc:
        log.error("%s", exc)
        return 2
    log.info("published %s to %s: %d copied, %d updated, %d already there, %d withdrawn, %d refused, %d failed, "
             "%d no longer approved", batch or dest.url, result.target, len(result.copied), len(result.updated),
             len(result.unchanged), len(result.withdrawn), len(result.refused), len(result.failed), len(result.stale))
    sys.stdout.write(f"{result.manifest}\n")
    return 3 if result.needs_attention else 0


COMMANDS = {"run": _cmd_run, "samples": _cmd_samples, "doctor": _cmd_doctor, "serve": _cmd_serve,
            "review": _cmd_review, "publish": _cmd_publish}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:  # `serve` has its own parser (flows.serve); pass everything through
        args = argparse.Namespace(command="serve", args=argv[1:])
    else:
        args = build_parser().parse_args(argv)
    from pipeline.config.errors import ConfigError
    from pipeline.progress import setup_logging

    setup_logging(logging.DEBUG if getattr(args, "verbose", False) else logging.INFO)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:  # every command: a config problem is a usage error, found before any work
        log.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except Exception as exc:  # the batch itself could not run (bad source URL, unwritable dest, ...)
        log.error("%s: %s", type(exc).__name__, exc)
        log.debug("traceback", exc_info=True)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
