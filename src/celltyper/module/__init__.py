"""Neural-network math of celltyper's models (scvi-tools ``BaseModuleClass`` subclasses)."""

from ._semisupervised_vae import SemiSupervisedCountVAEModule
from ._transformer import TransformerClassifierModule, TransformerConfig
from ._vae import CountVAEModule

__all__ = ["CountVAEModule", "SemiSupervisedCountVAEModule", "TransformerClassifierModule", "TransformerConfig"]
