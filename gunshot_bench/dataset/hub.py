"""The local dataset location, loading it with `datasets`, and publishing it to the Hub.

`load_dataset()` resolves the default local folder (`$GUNSHOT_BENCH_HOME/datasets/gunshot-bench`,
default `~/.cache/gunshot-bench`), building it from the embedded simulated corpus on first
use, and loads it with `datasets.load_dataset` offline.
"""

from __future__ import annotations

import os
from pathlib import Path

from gunshot_bench.errors import UserError

DATASET_NAME = "gunshot-bench"


class PublishError(UserError):
    """Publishing failed for a reason the user can act on (no token, no network): one line."""


def home() -> Path:
    """Where gunshot-bench keeps generated corpora, datasets and default models."""
    return Path(os.environ.get("GUNSHOT_BENCH_HOME", Path.home() / ".cache" / "gunshot-bench"))


def default_dataset_dir() -> Path:
    return home() / "datasets" / DATASET_NAME


def ensure_default_dataset(preset: str = "small", seed: int = 0, progress: bool = True) -> Path:
    """The default dataset folder, synthesised and built on first use."""
    out = default_dataset_dir()
    if (out / "manifest.json").is_file():
        return out
    from gunshot_bench.dataset.build import BuildConfig, build_dataset
    from gunshot_bench.sim import synthesize_corpus
    from gunshot_bench.variants import ALL

    corpus = home() / "corpora" / f"{preset}-seed{seed}"
    synthesize_corpus(preset, corpus, seed=seed, progress=progress)
    build_dataset(BuildConfig(sources=(("sim", str(corpus)),), out_dir=str(out), seed=seed, variants=ALL),
                  progress=progress)
    return out


def load_dataset(config: str = "clean", data_dir: str | Path | None = None, build_if_missing: bool = True,
                 verify: bool = True, **kwargs):
    """`datasets.load_dataset` on the local gunshot-bench folder (offline; no Hub access).

    Args:
        config: "clean", "background", "crowd_noise", "energy" or "detection".
        data_dir: a built dataset folder; default: the local default location.
        build_if_missing: synthesise and build the default dataset when it is absent.
        verify: check the shards' checksums and row counts against manifest.json first
            (`gunshot_bench.dataset.verify.check_dataset`); DatasetCorrupt when they differ.
        **kwargs: passed to `datasets.load_dataset` (e.g. `split="train"`).
    """
    import datasets

    if data_dir is None:
        data_dir = ensure_default_dataset() if build_if_missing else default_dataset_dir()
    data_dir = Path(data_dir)
    if not (data_dir / "README.md").is_file():
        raise FileNotFoundError(f"{data_dir} is not a built gunshot-bench dataset (no README.md card)")
    if verify:
        from gunshot_bench.dataset.verify import check_dataset

        check_dataset(data_dir)
    # A private cache: `datasets` files a local folder's cache under the folder's name, and offline
    # a bare `load_dataset("gunshot-bench")` falls back to any cache of that name, i.e. to some
    # other build's rows. Kept apart, that cache never answers a bare name.
    kwargs.setdefault("cache_dir", str(home() / "hf_datasets_cache"))
    return datasets.load_dataset(str(data_dir), config, **kwargs)


def publish(data_dir: Path, repo_id: str, tag: str, token: str | None = None, private: bool = False) -> str:
    """Push a built dataset folder to the Hub as a dataset repo and tag the version.

    A thin wrapper around huggingface_hub (create_repo, upload_folder, create_tag). It needs
    the network and a token, so it cannot be exercised on machines without Hub access; the
    repository id must be `org/name`. Returns the URL of the commit.
    """
    from huggingface_hub import HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError, HTTPError

    data_dir = Path(data_dir)
    if "/" not in repo_id:
        raise ValueError(f"--repo must be ORG/NAME on the Hub, got '{repo_id}'")
    if not (data_dir / "manifest.json").is_file():
        raise FileNotFoundError(f"{data_dir} is not a built gunshot-bench dataset (no manifest.json)")
    token = token or get_token()
    if not token:
        raise PublishError("no Hugging Face token: run `hf auth login` or set HF_TOKEN, then publish again")
    from gunshot_bench.dataset.verify import check_dataset

    check_dataset(data_dir)  # never publish a folder that no longer matches its manifest
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        commit = api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=str(data_dir),
                                   commit_message=f"gunshot-bench dataset {tag}")
        api.create_tag(repo_id, repo_type="dataset", tag=tag, tag_message=f"dataset version {tag}", exist_ok=True)
    except HfHubHTTPError as exc:  # the Hub answered: refused token, no rights, bad name
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PublishError(f"the Hub refused publishing {data_dir} to {repo_id}: {first[:200]}") from exc
    except (OSError, HTTPError) as exc:  # offline mode, no network, DNS, timeouts
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PublishError(f"cannot reach the Hugging Face Hub to publish {data_dir} ({type(exc).__name__}: "
                           f"{first[:200]}); check the network (and HF_HUB_OFFLINE), then publish again") from exc
    return str(commit.commit_url)
