"""`gunshot-bench encoders`: list the pretrained encoders and install the aiSFX weights."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "encoders", help="list pretrained encoders; install the aiSFX weights",
        description="`list` shows every registered encoder and whether it can run here. `install aisfx` "
                    "runs `pip install --no-deps aisfx==0.1.2` (the one step that uses the network): the "
                    "package pins numpy and librosa versions that conflict with ours, so only its "
                    "checkpoint is used, read without executing code.")
    p.add_argument("action", choices=["list", "install"])
    p.add_argument("name", nargs="?", default=None, help="encoder to install (aisfx)")
    p.set_defaults(func=run)


def run(args) -> int:
    from gunshot_bench.cli import UserError
    from gunshot_bench.encoders import aisfx, available_encoders, encoder_unavailable_reason

    if args.action == "list":
        for name in available_encoders():
            reason = encoder_unavailable_reason(name)
            print(f"{name}: {'ready' if reason is None else 'unavailable: ' + reason}")
        return 0
    if args.name != "aisfx":
        raise UserError(f"only the aisfx weights have an installer, got {args.name!r}")
    code = aisfx.install()
    if code == 0 and aisfx.unavailable_reason() is None:
        aisfx.load_weights(aisfx.checkpoint_path())  # verify digest and safe loading now
        print(f"aisfx weights installed and verified: {aisfx.checkpoint_path()}")
    return code
