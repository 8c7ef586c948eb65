"""A copy of a model without its turn journal: what a bundle from a store without one holds.

The copy goes through a bundle (the export path), with every instance's turns
dropped, so its timelines are inferred from history exactly as a duroxide store's
are.
"""

from __future__ import annotations

from durascope.replay import Model, build_bundle
from durascope.replay._bundle import bundle_to_model


def without_journal(model: Model, instance_id: str | None = None) -> Model:
    """The model (or one instance's tree) as a journal-free bundle, in memory."""
    model.load_all()
    bundle = build_bundle(model, instance_id=instance_id)
    stripped = bundle.model_copy(
        update={
            "instances": tuple(i.model_copy(update={"turns": ()}) for i in bundle.instances),
            "orphan_turns": (),
        }
    )
    return bundle_to_model(stripped, "journal-free")
