"""TransformerClassifierModule: a small transformer that reads each cell as a short sentence of gene tokens.

Read top to bottom: counts → normalized expression → (training: random gene masking) → tokens → pre-LN blocks →
CLS head, plus a fixed linear head (logistic regression) on the expression → logits: the heads' log-probabilities,
mixed with fixed weights; loss = the CLS head's cross entropy.

How a cell becomes a sequence (``B`` cells, ``G`` input genes, ``N`` = ``n_genes`` model genes, ``k`` gene tokens,
``D`` = ``d_model``)::

    counts x (B, G) ──log1p(CP10k) of the N model genes──► e (B, N)
    [CLS]        a learned vector                                                  (B, 1, D)
    [ALL-GENES]  Linear(N → D) of e: the logistic-regression view of the cell      (B, 1, D)
    k genes      the k expressed genes furthest above their reference mean:        (B, k, D)
                 gene-identity embedding[g] + MLP(expression value e_g)
    heads        LayerNorm + Linear on the CLS output, and the fitted Linear(N → classes) of e   (B, n_classes) each

Why, in short: the all-genes token starts the model where logistic regression on every gene is, and attention
over the ``k`` genes furthest above their reference mean (not the most expressed, which are the same ribosomal genes
in every cell) adds what sets a cell apart; gene-identity embeddings make a token more than a number; random gene
masking while training makes the model robust to shifts such as interferon stimulation; CLS pooling keeps the few
tokens that matter from being averaged away. The measurements behind each choice are in ``docs/design/transformer.md``
and ``docs/transformer.md``.

Class imbalance is handled outside the module, by class-balanced sampling in the training loader
(:class:`celltyper.train.BalancedDataSplitter`); the loss here is cross entropy with label smoothing.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from scvi import REGISTRY_KEYS
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data
from torch import nn


class Block(nn.Module):
    """Pre-LayerNorm transformer block: ``h + attention(LN(h))``, then ``h + MLP(LN(h))``."""

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.dropout = dropout
        self.ln_attention = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.ln_mlp = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model), nn.Dropout(dropout)
        )

    def forward(self, h: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        """``h`` (B, L, D); ``attend`` (B, 1, 1, L) is True for the tokens every query may look at."""
        B, L, D = h.shape
        q, k, v = self.qkv(self.ln_attention(h)).split(D, dim=2)  # each (B, L, D)
        q, k, v = (t.view(B, L, self.n_heads, D // self.n_heads).transpose(1, 2) for t in (q, k, v))  # (B, H, L, D/H)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=attend)  # (B, H, L, D/H)
        a = a.transpose(1, 2).reshape(B, L, D)  # (B, L, D)
        h = h + F.dropout(self.out(a), self.dropout, self.training)
        return h + self.mlp(self.ln_mlp(h))


@dataclass(frozen=True)
class TransformerConfig:
    """The transformer's hyperparameters, in one place (as nanoGPT's ``GPTConfig``).

    :class:`~celltyper.CellTypeTransformer` takes each field as a keyword argument and saves them with the model.

    Parameters
    ----------
    n_genes
        How many genes the model reads (at most all ``G``): the model class picks those whose log-normalized
        expression best separates the reference's cell types (ANOVA F statistic over the labelled cells). All genes
        still count towards each cell's library size.
    n_tokens
        ``k``: gene tokens per cell, the expressed genes that are highest above their reference mean.
    d_model
        Width ``D`` of every token.
    n_layers
        Transformer blocks.
    n_heads
        Attention heads per block (must divide ``d_model``).
    dropout
        Dropout probability in the blocks.
    gene_dropout
        Training only: the fraction of each cell's genes set to zero before tokenization (masking augmentation that
        makes the model robust to genes missing or shifted in a query).
    all_genes_token
        Add one token that is a linear map of every gene read (the logistic-regression view of the cell).
    label_smoothing
        Label smoothing of the cross entropy.
    linear_head
        Add a second head on the ``n_genes`` normalized values: a logistic regression (scikit-learn, L2, ``C=1``,
        balanced classes) fitted by the model class at the start of training (:meth:`set_linear_head`), then fixed.
        The prediction mixes both heads' log-probabilities.
    linear_weight
        Weight of the linear head in that mixture (the transformer's head gets ``1 - linear_weight``).
    """

    n_genes: int = 2000
    n_tokens: int = 64
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    dropout: float = 0.1
    gene_dropout: float = 0.3
    all_genes_token: bool = True
    label_smoothing: float = 0.1
    linear_head: bool = True
    linear_weight: float = 0.5

    @classmethod
    def from_kwargs(cls, owner: str, **kwargs: Any) -> TransformerConfig:
        """The config with the fields in ``kwargs``; a ``TypeError`` that names the valid ones for any other key.

        Parameters
        ----------
        owner
            Who was called with ``kwargs``, for the message.
        **kwargs
            Fields of the config; the others keep their defaults.
        """
        names = [field.name for field in fields(cls)]
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise TypeError(f"{owner} got unexpected keyword arguments {unknown}; the valid ones are {names}.")
        return cls(**kwargs)


class TransformerClassifierModule(BaseModuleClass):
    """Cell-type classifier over gene tokens (see the module docstring for the design and why).

    Parameters
    ----------
    n_input
        Number of genes ``G`` (columns of the registered expression matrix); all of them define the library size.
    n_classes
        Number of cell types (the unlabeled category excluded).
    config
        The hyperparameters (default: :class:`TransformerConfig`'s defaults). The genes read are chosen by the model
        class, see :meth:`set_reference`.
    """

    def __init__(self, n_input: int, n_classes: int, config: TransformerConfig | None = None):
        super().__init__()
        config = TransformerConfig() if config is None else config
        d_model, n_heads, linear_weight = config.d_model, config.n_heads, config.linear_weight
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads}).")
        if not 0 <= linear_weight <= 1:
            raise ValueError(f"linear_weight must be between 0 and 1, not {linear_weight}.")
        self.config = config
        self.n_input = n_input
        self.n_genes = min(config.n_genes, n_input)
        self.n_classes = n_classes
        self.n_tokens = min(config.n_tokens, self.n_genes)
        self.all_genes_token = config.all_genes_token
        self.label_smoothing = config.label_smoothing
        # Which input columns the model reads, and their reference mean of log1p(CP10k): set by the model from its
        # training cells (set_reference), saved with it.
        self.register_buffer("gene_index", torch.arange(self.n_genes))
        self.register_buffer("gene_mean", torch.zeros(self.n_genes))

        self.gene_embedding = nn.Embedding(self.n_genes, d_model)  # identity of each gene token
        self.value_encoder = nn.Sequential(nn.Linear(1, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        self.gene_dropout = config.gene_dropout
        self.all_genes = nn.Linear(self.n_genes, d_model) if config.all_genes_token else None
        self.blocks = nn.ModuleList(Block(d_model, n_heads, config.dropout) for _ in range(config.n_layers))
        self.ln_final = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_classes)
        # The linear head: logistic-regression coefficients (n_classes, N) and intercepts, fitted by the model class
        # before training (set_linear_head) and never trained by gradient, so they are buffers.
        self.linear_head = config.linear_head
        self.linear_weight = linear_weight
        if config.linear_head:
            self.register_buffer("linear_coef", torch.zeros(n_classes, self.n_genes))
            self.register_buffer("linear_intercept", torch.zeros(n_classes))
        nn.init.normal_(self.gene_embedding.weight, std=0.02)
        nn.init.normal_(self.cls, std=0.02)

    def set_reference(self, gene_index: torch.Tensor, gene_mean: torch.Tensor) -> None:
        """Store the ``n_genes`` columns the model reads and their reference mean of log1p(CP10k)."""
        self.gene_index.copy_(gene_index)
        self.gene_mean.copy_(gene_mean)

    def set_linear_head(self, coef: torch.Tensor, intercept: torch.Tensor) -> None:
        """Store the linear head: logistic-regression coefficients (n_classes, n_genes) and intercepts (n_classes,)."""
        self.linear_coef.copy_(coef)
        self.linear_intercept.copy_(intercept)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """log1p(CP10k) of the model's genes, (B, n_genes), from counts ``x`` (B, G); the library is all G genes."""
        library = x.sum(1, keepdim=True).clamp(min=1.0)  # (B, 1)
        return torch.log1p(x[:, self.gene_index] / library * 1e4)  # (B, n_genes)

    def tokens(self, e: torch.Tensor, expressed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sequence of normalized expression ``e`` (B, G): tokens (B, L, D) and attention mask (B, 1, 1, L)."""
        B = e.shape[0]
        score = (e - self.gene_mean).masked_fill(~expressed, float("-inf"))  # (B, G); only expressed genes compete
        top = score.topk(self.n_tokens, dim=1).indices  # (B, k): the genes most above their reference mean
        values = e.gather(1, top).unsqueeze(-1)  # (B, k, 1)
        genes = self.gene_embedding(top) + self.value_encoder(values)  # (B, k, D)
        special = [self.cls.expand(B, -1, -1)]  # (B, 1, D)
        if self.all_genes is not None:
            special.append(self.all_genes(e).unsqueeze(1))  # (B, 1, D)
        h = torch.cat([*special, genes], dim=1)  # (B, L, D), L = 1 or 2, plus k
        attend = torch.cat(
            [torch.ones(B, len(special), dtype=torch.bool, device=e.device), expressed.gather(1, top)], 1
        )
        return h, attend[:, None, None, :]  # padding: cells with fewer than k expressed genes mask the rest

    def heads(self, e: torch.Tensor, expressed: torch.Tensor) -> list[torch.Tensor]:
        """Logits (B, n_classes) of each head: the transformer's CLS head, then the linear head if there is one."""
        h, attend = self.tokens(e, expressed)
        for block in self.blocks:
            h = block(h, attend)  # (B, L, D)
        logits = [self.head(self.ln_final(h[:, 0]))]  # the CLS token (B, D) → (B, n_classes)
        if self.linear_head:
            logits.append(F.linear(e, self.linear_coef, self.linear_intercept))  # (B, N) → (B, n_classes)
        return logits

    def ensemble(self, logits: list[torch.Tensor]) -> torch.Tensor:
        """The model's logits (B, n_classes): the heads' log-probabilities, mixed with ``linear_weight``.

        A weighted sum of log-probabilities is not normalized; its softmax is the prediction's probabilities.
        """
        if len(logits) == 1:
            return F.log_softmax(logits[0], dim=1)
        w = self.linear_weight
        return (1 - w) * F.log_softmax(logits[0], dim=1) + w * F.log_softmax(logits[1], dim=1)

    def classify_normalized(self, e: torch.Tensor, expressed: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_classes) from normalized expression; differentiable in ``e`` (feature importance)."""
        return self.ensemble(self.heads(e, expressed))

    def expression(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized expression (B, N) of counts ``x`` (B, G); while training, random genes of each cell are zeroed."""
        e = self.normalize(x)
        if self.training and self.gene_dropout > 0:
            e = e * (torch.rand_like(e) >= self.gene_dropout)
        return e

    @auto_move_data
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_classes) of counts ``x`` (B, G), as every celltyper module's ``classify``: softmax them."""
        e = self.expression(x)
        return self.classify_normalized(e, e > 0)

    def _get_inference_input(self, tensors: dict[str, torch.Tensor], **kwargs) -> dict[str, torch.Tensor]:
        return {"x": tensors[REGISTRY_KEYS.X_KEY]}

    def _get_generative_input(self, tensors: dict, inference_outputs: dict, **kwargs) -> dict:
        return {}

    @auto_move_data
    def inference(self, x: torch.Tensor) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """Each head's logits and their ensemble for every cell of the minibatch."""
        e = self.expression(x)
        heads = self.heads(e, e > 0)
        return {"logits": self.ensemble(heads), "heads": heads}

    def generative(self) -> dict:
        """A classifier generates nothing; present because scvi-tools' forward pass calls it."""
        return {}

    def loss(self, tensors: dict[str, torch.Tensor], inference_outputs: dict, generative_outputs: dict) -> LossOutput:
        """Cross entropy of the transformer's head (label smoothing; the linear head is fitted, not trained).

        The returned ``logits`` are the model's prediction (both heads mixed), so the validation macro-F1 logged beside
        the loss is the prediction's. Every cell the loaders give is labelled.
        """
        y = tensors[REGISTRY_KEYS.LABELS_KEY].view(-1).long()  # (B,)
        ce = F.cross_entropy(inference_outputs["heads"][0], y, label_smoothing=self.label_smoothing)
        logits = inference_outputs["logits"]
        return LossOutput(loss=ce, classification_loss=ce, logits=logits, true_labels=y, n_obs_minibatch=y.shape[0])
