"""BibTeX of the package and of every public collection a build can include, for the card.

Kept as text: no library holds these entries, and the card must cite offline.
"""

from __future__ import annotations

from gunshot_bench import __version__

PACKAGE_BIBTEX = f"""@software{{gunshot_bench,
  title   = {{gunshot-bench: an open dataset and benchmark for firearm sound recognition}},
  author  = {{{{gunshot-bench contributors}}}},
  version = {{{__version__}}},
  year    = {{2026}},
  license = {{Apache-2.0}}
}}"""

#: Source kind -> BibTeX of the collection it reads (kinds absent here hold the user's own audio).
SOURCE_BIBTEX = {
    "baseline": """@article{kabealo2023,
  author  = {Kabealo, Ruksana and others},
  title   = {A multi-firearm, multi-orientation audio dataset of gunshots},
  journal = {Data in Brief},
  volume  = {48},
  pages   = {109091},
  year    = {2023},
  doi     = {10.1016/j.dib.2023.109091}
}""",
    "esc50": """@inproceedings{piczak2015esc,
  author    = {Piczak, Karol J.},
  title     = {{ESC}: Dataset for Environmental Sound Classification},
  booktitle = {Proceedings of the 23rd ACM International Conference on Multimedia},
  pages     = {1015--1018},
  year      = {2015},
  doi       = {10.1145/2733373.2806390}
}""",
    "urbansound8k": """@inproceedings{salamon2014urbansound,
  author    = {Salamon, Justin and Jacoby, Christopher and Bello, Juan Pablo},
  title     = {A Dataset and Taxonomy for Urban Sound Research},
  booktitle = {Proceedings of the 22nd ACM International Conference on Multimedia},
  pages     = {1041--1044},
  year      = {2014},
  doi       = {10.1145/2647868.2655045}
}""",
    "fsd50k": """@article{fonseca2022fsd50k,
  author  = {Fonseca, Eduardo and Favory, Xavier and Pons, Jordi and Font, Frederic and Serra, Xavier},
  title   = {{FSD50K}: An Open Dataset of Human-Labeled Sound Events},
  journal = {IEEE/ACM Transactions on Audio, Speech, and Language Processing},
  volume  = {30},
  pages   = {829--852},
  year    = {2022},
  doi     = {10.1109/TASLP.2021.3133208}
}""",
}


def citation_section(source_kinds: set[str]) -> str:
    """The card's citation block: the package, then each included collection that has a paper."""
    entries = [PACKAGE_BIBTEX] + [SOURCE_BIBTEX[k] for k in sorted(source_kinds) if k in SOURCE_BIBTEX]
    return "```bibtex\n" + "\n\n".join(entries) + "\n```"
