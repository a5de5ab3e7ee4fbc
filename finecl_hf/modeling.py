"""FineCL models, laid out as transformers' LUKE: the bare `FineCLModel` (encoder + entity pooling; `AutoModel`),
contrastive pre-training (`FineCLForPreTraining`; `AutoModelForPreTraining`) and relation extraction
(`FineCLForRelationExtraction`; `AutoModelForSequenceClassification` and the `relation-extraction` pipeline).

All three keep the encoder at `encoder.*`, so every FineCL checkpoint loads into `FineCLModel`, and a head class loads
only a checkpoint that holds its head: anything else fails with `IncompatibleCheckpointError` naming the class to use,
instead of returning a randomly initialised head (`from_backbone` / `allow_new_head=True` build a new head on purpose).

This module is copied next to saved checkpoints (``auto_map``) so that `AutoModel.from_pretrained(dir,
trust_remote_code=True)` works without `finecl_hf` installed; it therefore imports only torch, transformers and its two
sibling modules.

Batch format shared by every forward (see `finecl_hf.data.data_collator`):
- `input_ids`, `attention_mask` (`[batch, length]`) and optional `token_type_ids`;
- `mention_spans` (`[mentions, 3]`): (batch row, first token, end token exclusive) of every entity mention, in
  sub-word positions of `input_ids`;
- `mention_entity_ids` (`[mentions]`): batch-global index of the entity each mention belongs to (every entity has at
  least one mention). A mention is the mean of its sub-word vectors (eq. 4); an entity pools its mentions with
  `config.entity_pooling`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedConfig, PreTrainedModel
from transformers.activations import ACT2FN
from transformers.utils import ModelOutput, logging

from .configuration import FineCLConfig
from .errors import DataError
from .losses import (
    adaptive_threshold_loss,
    entity_discrimination_loss,
    learning_order_weights,
    pool_entities,
    pool_mentions,
    relation_discrimination_loss,
)
from .weighting import get_weighting

logger = logging.get_logger(__name__)

# The `relation-extraction` pipeline, copied beside every saved model; `custom_pipelines` key of its config. The key
# differs from the task name that `import finecl_hf` registers: transformers sends a task named in `custom_pipelines`
# to the remote code (and demands `trust_remote_code`) even when the same task is registered locally.
PIPELINE_MODULE = "pipelines"
CUSTOM_PIPELINE_TASK = "finecl-relation-extraction"


class IncompatibleCheckpointError(Exception):
    """A FineCL folder does not hold the weights of the class asked to load it (e.g. a classifier from a pre-training
    checkpoint). Not a `ValueError`, so that `pipeline(...)` shows this message instead of retrying other classes."""


@dataclass
class FineCLModelOutput(ModelOutput):
    """Output of [`FineCLModel`].

    Args:
        last_hidden_state: `[batch, length, hidden]` encoder output.
        entity_embeddings: `[entities, hidden]` pooled entity representations (batch-global entity index).
        relation_embeddings: `[pairs, 2 · hidden]` relation representations r = [e_head; e_tail] of `pair_entity_ids`,
            when pairs are given.
    """

    last_hidden_state: torch.FloatTensor | None = None
    entity_embeddings: torch.FloatTensor | None = None
    relation_embeddings: torch.FloatTensor | None = None


@dataclass
class FineCLPreTrainingOutput(ModelOutput):
    """Output of [`FineCLForPreTraining`].

    Args:
        loss: `ed_loss_weight · L_ED + rd_loss_weight · L_RD + mlm_loss_weight · L_MLM` over the parts the batch holds.
        ed_loss: entity discrimination loss (detached), when the batch holds ED documents.
        rd_loss: relation discrimination loss (detached), when the batch holds RD instances.
        mlm_loss: masked language modelling loss (detached), when the batch holds MLM `labels`.
        num_anchors: number of RD anchors (instances with a positive) in the batch.
        relation_embeddings: `[instances, 2 · hidden]` relation representations r = [e_head; e_tail].
    """

    loss: torch.FloatTensor | None = None
    ed_loss: torch.FloatTensor | None = None
    rd_loss: torch.FloatTensor | None = None
    mlm_loss: torch.FloatTensor | None = None
    num_anchors: torch.LongTensor | None = None
    relation_embeddings: torch.FloatTensor | None = None


@dataclass
class RelationExtractionOutput(ModelOutput):
    """Output of [`FineCLForRelationExtraction`].

    Args:
        loss: cross-entropy (sentence level), BCE or adaptive-threshold loss (document level), when `labels` are given.
        logits: `[pairs, num_labels]` relation scores of every (head, tail) pair of the batch.
        entity_embeddings: `[entities, hidden]` pooled entity representations.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    entity_embeddings: torch.FloatTensor | None = None


class FineCLPreTrainedModel(PreTrainedModel):
    """Weight initialisation, encoder construction and loading shared by the FineCL models."""

    config: FineCLConfig
    config_class = FineCLConfig
    base_model_prefix = "finecl"
    supports_gradient_checkpointing = True
    _supports_sdpa = True

    def __init__(self, config: FineCLConfig):
        config.check_values()
        super().__init__(config)
        self.encoder = _build_encoder(config.encoder)

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.encoder.initializer_range
        if isinstance(module, (nn.Linear, nn.Bilinear)):
            module.weight.normal_(mean=0.0, std=std)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.fill_(1.0)
            module.bias.zero_()
        elif isinstance(module, FineCLLMHead):
            module.bias.zero_()

    def _encode(self, input_ids, attention_mask, token_type_ids) -> torch.Tensor:
        encoder_inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            encoder_inputs["token_type_ids"] = token_type_ids
        return self.encoder(**encoder_inputs).last_hidden_state

    def encode_entities(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None,
        mention_spans: torch.LongTensor,
        mention_entity_ids: torch.LongTensor,
        token_type_ids: torch.LongTensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the encoder and pool its last hidden state into entity representations.

        Returns:
            `(last_hidden_state [batch, length, hidden], entity_embeddings [entities, hidden])`.
        """
        _check_spans(mention_spans, mention_entity_ids, input_ids.shape)
        hidden_states = self._encode(input_ids, attention_mask, token_type_ids)
        mentions = pool_mentions(hidden_states, mention_spans)
        num_entities = int(mention_entity_ids.max()) + 1 if mention_entity_ids.numel() else 0
        entities = pool_entities(mentions, mention_entity_ids, num_entities, self.config.entity_pooling)
        return hidden_states, entities

    @classmethod
    def from_backbone(cls, name_or_path: str, **config_overrides) -> FineCLPreTrainedModel:
        """Load from a FineCL checkpoint, or wrap a plain encoder checkpoint (BERT, RoBERTa, MiniLM, ...).

        A FineCL checkpoint (`model_type="finecl"`) is loaded with `from_pretrained(..., allow_new_head=True)` (its
        encoder weights are reused; heads this class does not have are ignored, heads it adds are newly initialised:
        what fine-tuning a pre-trained checkpoint wants). Any other checkpoint is treated as the backbone encoder: its
        weights fill `encoder` and the FineCL heads are newly initialised. `config_overrides` set `FineCLConfig`
        fields (e.g. `num_labels`, `id2label`, `relation_level`).
        """
        backbone_config = AutoConfig.from_pretrained(name_or_path)
        try:
            if isinstance(backbone_config, FineCLConfig):
                return cls.from_pretrained(name_or_path, allow_new_head=True, **config_overrides)
            model = cls(FineCLConfig(encoder=backbone_config, **config_overrides))
            pretrained = _build_encoder(backbone_config, name_or_path)
        except SafetensorError as error:
            raise DataError(
                f"{name_or_path}: model.safetensors cannot be read ({error}): the file is damaged or cut short "
                "(a copy or a save that did not finish)."
            ) from error
        model.encoder.load_state_dict(pretrained.state_dict())
        model.config.name_or_path = name_or_path
        return model

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, allow_new_head: bool = False, **kwargs):
        """`PreTrainedModel.from_pretrained`, refusing a folder that lacks this class's head weights.

        Args:
            allow_new_head: initialise the weights the folder lacks (a new classifier on a pre-trained encoder)
                instead of raising `IncompatibleCheckpointError`; `from_backbone` is the usual way to ask for that.
        """
        config = kwargs.get("config")
        saved_as = _saved_architecture(config if isinstance(config, PreTrainedConfig) else None,
                                       pretrained_model_name_or_path, kwargs)
        if not allow_new_head and saved_as and saved_as not in cls._loads_architectures():
            raise IncompatibleCheckpointError(_incompatible_message(pretrained_model_name_or_path, saved_as, cls))
        want_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(pretrained_model_name_or_path, *model_args, output_loading_info=True,
                                              **kwargs)
        if info["missing_keys"] and not allow_new_head:
            raise IncompatibleCheckpointError(
                _incompatible_message(pretrained_model_name_or_path, saved_as, cls, sorted(info["missing_keys"]))
            )
        if saved_as and saved_as != cls.__name__ and cls is FineCLModel:
            logger.warning(f"{pretrained_model_name_or_path}: the {saved_as} head weights are not used by the bare "
                           f"FineCLModel (entity and relation representations); load {saved_as} to use them.")
        return (model, info) if want_info else model

    @classmethod
    def _loads_architectures(cls) -> set[str]:
        """Saved architectures whose weights fill every parameter of this class."""
        return {cls.__name__}

    def save_pretrained(self, save_directory, *args, **kwargs) -> None:
        """`PreTrainedModel.save_pretrained`, with an `auto_map` naming every class that can load the folder, and the
        `relation-extraction` pipeline code beside the modelling code (`custom_pipelines`)."""
        pipeline_file = Path(__file__).with_name(f"{PIPELINE_MODULE}.py")
        self.config.auto_map = {
            "AutoConfig": "configuration.FineCLConfig",
            "AutoModel": "modeling.FineCLModel",
            **{auto_class: f"modeling.{name}" for auto_class, name in self._auto_map_heads.items()},
        }
        if pipeline_file.is_file():
            self.config.custom_pipelines = {
                CUSTOM_PIPELINE_TASK: {
                    "impl": f"{PIPELINE_MODULE}.RelationExtractionPipeline",
                    # Tried in order: a fine-tuned folder loads its classifier; any other FineCL folder loads as the
                    # bare model, and the pipeline then says which folder it needs.
                    "pt": ["AutoModelForSequenceClassification", "AutoModel"],
                    "tf": [],
                    "type": "text",
                }
            }
        elif getattr(self.config, "custom_pipelines", None):
            del self.config.custom_pipelines
        super().save_pretrained(save_directory, *args, **kwargs)
        if pipeline_file.is_file() and kwargs.get("is_main_process", True):
            # The pipeline imports `encoding.py` relatively (the rules it shares with the data layer): both travel.
            for file in (pipeline_file, pipeline_file.with_name("encoding.py")):
                shutil.copyfile(file, Path(save_directory) / file.name)

    # Auto classes (besides AutoConfig/AutoModel) whose `auto_map` entry a saved folder of this class gets.
    _auto_map_heads: dict[str, str] = {}


class FineCLModel(FineCLPreTrainedModel):
    """The bare FineCL encoder: contextual token vectors pooled into entity representations (mentions: mean of their
    sub-words, eq. 4; entities: `config.entity_pooling` of their mentions) and, for given (head, tail) pairs, relation
    representations r = [e_head; e_tail] (paper §3.2).

    Loads every FineCL folder (pre-training or fine-tuned): the head weights of those are left unused.

    Example:

    ```python
    >>> from transformers import AutoModel
    >>> import finecl_hf  # registers FineCL with the Auto classes (or pass trust_remote_code=True)
    >>> model = AutoModel.from_pretrained("runs/finecl-pretrained")
    >>> output = model(**batch)  # batch from finecl_hf.data collators
    >>> output.entity_embeddings.shape, output.relation_embeddings.shape
    ```
    """

    _auto_class = "AutoModel"
    # Head weights of pre-training / fine-tuned folders, which the bare model does not have (reported in one line).
    _keys_to_ignore_on_load_unexpected = [r"^lm_head\.", r"^classifier\.", r"^head_projection\.", r"^tail_projection\."]

    def __init__(self, config: FineCLConfig):
        super().__init__(config)
        self.post_init()

    @classmethod
    def _loads_architectures(cls) -> set[str]:
        return {"FineCLModel", "FineCLForPreTraining", "FineCLForRelationExtraction"}

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        mention_spans: torch.LongTensor | None = None,
        mention_entity_ids: torch.LongTensor | None = None,
        pair_entity_ids: torch.LongTensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
    ) -> FineCLModelOutput:
        r"""Entity and relation representations of a batch.

        `input_ids`, `attention_mask`, `token_type_ids`, `mention_spans` and `mention_entity_ids` are the shared batch
        format (module docstring). Without `mention_spans` only `last_hidden_state` is returned.

        Args:
            pair_entity_ids (`[pairs, 2]`): (head, tail) batch-global entity indices whose relation representations
                are wanted.
        """
        if mention_spans is None:
            return FineCLModelOutput(last_hidden_state=self._encode(input_ids, attention_mask, token_type_ids))
        hidden_states, entities = self.encode_entities(
            input_ids, attention_mask, mention_spans, mention_entity_ids, token_type_ids
        )
        relations = relation_representations(entities, pair_entity_ids) if pair_entity_ids is not None else None
        return FineCLModelOutput(last_hidden_state=hidden_states, entity_embeddings=entities,
                                 relation_embeddings=relations)


def relation_representations(entities: torch.Tensor, pair_entity_ids: torch.Tensor) -> torch.Tensor:
    """r = [e_head; e_tail] for each (head, tail) row of `pair_entity_ids`: `[pairs, 2 · hidden]`."""
    return torch.cat([entities[pair_entity_ids[:, 0]], entities[pair_entity_ids[:, 1]]], dim=-1)


class FineCLLMHead(nn.Module):
    """Masked-language-modelling head (dense → activation → LayerNorm → decoder tied to the input embeddings)."""

    def __init__(self, encoder_config):
        super().__init__()
        hidden = encoder_config.hidden_size
        self.dense = nn.Linear(hidden, hidden)
        self.activation = ACT2FN[getattr(encoder_config, "hidden_act", "gelu")]
        self.layer_norm = nn.LayerNorm(hidden, eps=getattr(encoder_config, "layer_norm_eps", 1e-12))
        self.decoder = nn.Linear(hidden, encoder_config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(encoder_config.vocab_size))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.layer_norm(self.activation(self.dense(hidden_states)))) + self.bias


class FineCLForPreTraining(FineCLPreTrainedModel):
    """FineCL pre-training: L = L_ED + L_RD + L_MLM (paper eq. 7), RD weighted by learning order (eq. 5).

    Relation-discrimination (RD) inputs describe the MLM-masked documents of the batch (`input_ids`, ...) and their
    relation instances; entity-discrimination (ED) inputs, prefixed `ed_`, describe the documents that carry a
    `relation name + head mention + [SEP]` prefix. Either part may be left out.

    Example:

    ```python
    >>> from finecl_hf import FineCLForPreTraining
    >>> model = FineCLForPreTraining.from_backbone("roberta-base", max_learned_epoch=14)
    ```
    """

    _auto_class = "AutoModelForPreTraining"
    _auto_map_heads = {"AutoModelForPreTraining": "FineCLForPreTraining"}

    def __init__(self, config: FineCLConfig):
        super().__init__(config)
        self.lm_head = FineCLLMHead(config.encoder)
        embedding_name = _parameter_name(self.encoder, self.encoder.get_input_embeddings().weight)
        self._tied_weights_keys = {"lm_head.decoder.weight": f"encoder.{embedding_name}"}
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head.decoder = new_embeddings

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        mention_spans: torch.LongTensor | None = None,
        mention_entity_ids: torch.LongTensor | None = None,
        labels: torch.LongTensor | None = None,
        relation_entity_ids: torch.LongTensor | None = None,
        relation_learned_epochs: torch.LongTensor | None = None,
        relation_positive_index: torch.LongTensor | None = None,
        relation_negative_index: torch.LongTensor | None = None,
        relation_is_no_relation: torch.BoolTensor | None = None,
        relation_weights: torch.FloatTensor | None = None,
        ed_input_ids: torch.LongTensor | None = None,
        ed_attention_mask: torch.Tensor | None = None,
        ed_token_type_ids: torch.LongTensor | None = None,
        ed_mention_spans: torch.LongTensor | None = None,
        ed_mention_entity_ids: torch.LongTensor | None = None,
        ed_query_entity_ids: torch.LongTensor | None = None,
        ed_candidate_entity_ids: torch.LongTensor | None = None,
        ed_target_index: torch.LongTensor | None = None,
    ) -> FineCLPreTrainingOutput:
        r"""The FineCL losses of a pre-training batch (ED + learning-order-weighted RD + MLM).

        `input_ids`, `attention_mask`, `token_type_ids`, `mention_spans` and `mention_entity_ids` are the RD documents
        (MLM-masked when `labels` is given) in the shared batch format. The `ed_*` arguments are the ED documents in
        the same format, with for each query its head entity (`ed_query_entity_ids`), the other entities of its
        document (`ed_candidate_entity_ids`, padded with `-1`) and the position of the true tail among them
        (`ed_target_index`).

        Args:
            labels (`[batch, length]`): MLM targets, `-100` where a token is not masked (entity tokens never are).
            relation_entity_ids (`[instances, 2]`): (head, tail) entity index of each relation instance.
            relation_learned_epochs (`[instances]`): epoch k in which stage 1 first learned the instance, `-1` if never.
            relation_positive_index (`[instances]`): index of the instance's positive (same relation, another
                document), `-1` where the instance is not an anchor.
            relation_negative_index (`[instances, negatives]`): its negatives (other relations), padded with `-1`.
            relation_is_no_relation (`[instances]`): marks no-relation instances (used by `weighting="reference"`).
            relation_weights (`[instances]`): the weight of each instance when `config.weighting` is a corpus scheme
                (`posterior`, `truncate`: computed for the whole corpus by stage 2's data preparation); when given,
                it replaces f(k).
        """
        config = self.config
        losses: dict[str, torch.Tensor] = {}
        output = FineCLPreTrainingOutput()
        if input_ids is not None:
            hidden_states, entities = self._encode_optional(
                input_ids, attention_mask, mention_spans, mention_entity_ids, token_type_ids
            )
            if labels is not None:
                losses["mlm"] = self._mlm_loss(hidden_states, labels)
            if relation_entity_ids is not None:
                relations = relation_representations(entities, relation_entity_ids)
                losses["rd"] = self._rd_loss(
                    relations, relation_learned_epochs, relation_positive_index, relation_negative_index,
                    relation_is_no_relation, relation_weights,
                )
                output.relation_embeddings = relations
                output.num_anchors = (relation_positive_index >= 0).sum()
        if ed_input_ids is not None:
            _, ed_entities = self.encode_entities(
                ed_input_ids, ed_attention_mask, ed_mention_spans, ed_mention_entity_ids, ed_token_type_ids
            )
            losses["ed"] = entity_discrimination_loss(
                ed_entities, ed_query_entity_ids, ed_candidate_entity_ids, ed_target_index, config.temperature
            )
        if not losses:
            raise ValueError("FineCLForPreTraining.forward got neither RD/MLM inputs (`input_ids`) nor ED inputs (`ed_input_ids`).")
        scales = {"ed": config.ed_loss_weight, "rd": config.rd_loss_weight, "mlm": config.mlm_loss_weight}
        output.loss = sum(scales[name] * value for name, value in losses.items())
        for name, value in losses.items():
            setattr(output, f"{name}_loss", value.detach())
        return output

    def _encode_optional(self, input_ids, attention_mask, mention_spans, mention_entity_ids, token_type_ids):
        if mention_spans is None:
            return self._encode(input_ids, attention_mask, token_type_ids), None
        return self.encode_entities(input_ids, attention_mask, mention_spans, mention_entity_ids, token_type_ids)

    def _mlm_loss(self, hidden_states: torch.Tensor, labels: torch.LongTensor) -> torch.Tensor:
        # Only masked positions go through the vocabulary projection: ~15% of the tokens instead of all of them.
        masked = labels != -100
        if not masked.any():
            # Still run the head on one token: DDP needs every parameter in the graph on every process.
            return self.lm_head(hidden_states[:, :1]).sum() * 0.0
        logits = self.lm_head(hidden_states[masked])
        return nn.functional.cross_entropy(logits.float(), labels[masked])

    def _rd_loss(
        self, relations, learned_epochs, positive_index, negative_index, is_no_relation, weights=None
    ) -> torch.Tensor:
        config = self.config
        scheme = get_weighting(config.weighting)  # the config holds the name it is saved with
        if learned_epochs is None:
            learned_epochs = torch.full_like(positive_index, -1)
        if weights is None:
            weights = learning_order_weights(
                learned_epochs,
                weighting=scheme,
                alpha=config.alpha,
                min_epoch=config.min_learned_epoch,
                max_epoch=config.max_learned_epoch,
                is_no_relation=is_no_relation,
                reference_epoch_cap=config.reference_epoch_cap,
                reference_no_relation_weight=config.reference_no_relation_weight,
            )
        return relation_discrimination_loss(
            relations,
            positive_index,
            negative_index,
            weights,
            config.temperature,
            weight_positive_in_denominator=scheme.positive_weight_in_partition,
        )


class FineCLForRelationExtraction(FineCLPreTrainedModel):
    """Relation classifier over pooled entity pairs (paper §3.3).

    - `relation_level="sentence"`: one (head, tail) pair per example; logits = Linear([e_head; e_tail]); single-label
      cross-entropy over all labels, no-relation included (eq. 1).
    - `relation_level="document"`: every entity pair of a document; head and tail are projected (tanh) and scored by a
      bilinear layer; multi-label BCE (the paper) or ATLOP's adaptive-threshold loss (`document_loss`), label 0 being
      no-relation.
    """

    # A pre-training checkpoint carries an MLM head that relation extraction does not use (`from_backbone`).
    _keys_to_ignore_on_load_unexpected = [r"lm_head\."]
    # transformers has no Auto class for relation extraction; a FineCL classifier takes entity spans, so only FineCL
    # configs map to it and text-classification pipelines never pick it. The `pipeline` entry point loads it this way.
    _auto_class = "AutoModelForSequenceClassification"
    _auto_map_heads = {"AutoModelForSequenceClassification": "FineCLForRelationExtraction"}

    def __init__(self, config: FineCLConfig):
        super().__init__(config)
        hidden = config.encoder.hidden_size
        self.dropout = nn.Dropout(config.classifier_dropout)
        if config.relation_level == "sentence":
            self.classifier = nn.Linear(2 * hidden, config.num_labels)
        else:
            projection = config.document_projection_size
            self.head_projection = nn.Linear(hidden, projection)
            self.tail_projection = nn.Linear(hidden, projection)
            self.classifier = nn.Bilinear(projection, projection, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        mention_spans: torch.LongTensor | None = None,
        mention_entity_ids: torch.LongTensor | None = None,
        pair_entity_ids: torch.LongTensor | None = None,
        labels: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
    ) -> RelationExtractionOutput:
        r"""
        Args:
            pair_entity_ids (`[pairs, 2]`): (head, tail) batch-global entity indices of the pairs to classify.
            labels: sentence level `[pairs]` class ids (`-100` ignored); document level `[pairs, num_labels]` multi-hot
                with column 0 = no-relation.
        """
        if mention_spans is None or mention_entity_ids is None or pair_entity_ids is None:
            raise ValueError(
                "FineCLForRelationExtraction.forward needs `mention_spans`, `mention_entity_ids` and `pair_entity_ids`."
            )
        if mention_spans.numel() == 0 and pair_entity_ids.numel() == 0:
            return self._output_without_pairs(labels)
        _, entities = self.encode_entities(input_ids, attention_mask, mention_spans, mention_entity_ids, token_type_ids)
        if self.config.relation_level == "sentence":
            logits = self.classifier(self.dropout(relation_representations(entities, pair_entity_ids)))
        else:
            heads, tails = entities[pair_entity_ids[:, 0]], entities[pair_entity_ids[:, 1]]
            heads = self.dropout(torch.tanh(self.head_projection(heads)))
            tails = self.dropout(torch.tanh(self.tail_projection(tails)))
            logits = self.classifier(heads, tails)
        loss = self._loss(logits, labels) if labels is not None else None
        return RelationExtractionOutput(loss=loss, logits=logits, entity_embeddings=entities)

    def _output_without_pairs(self, labels: torch.Tensor | None) -> RelationExtractionOutput:
        """A batch whose documents have no entity (left): nothing to score. The loss is a zero that reaches every
        trainable parameter, so gradient synchronisation (DDP) sees the same graph on every process."""
        reference = next(self.parameters())
        logits = reference.new_zeros((0, self.config.num_labels))
        loss = None
        if labels is not None:
            loss = sum(parameter.sum() for parameter in self.parameters() if parameter.requires_grad) * 0.0
        return RelationExtractionOutput(loss=loss, logits=logits, entity_embeddings=reference.new_zeros((0, self.config.hidden_size)))

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.config.relation_level == "sentence":
            return nn.functional.cross_entropy(logits.float(), labels.long())
        if self.config.document_loss == "adaptive_threshold":
            return adaptive_threshold_loss(logits.float(), labels)
        return nn.functional.binary_cross_entropy_with_logits(logits.float(), labels.float())


def _build_encoder(encoder_config, name_or_path: str | None = None) -> PreTrainedModel:
    """The backbone without its pooler: FineCL never uses it, and unused parameters break DDP."""
    def build(**kwargs):
        if name_or_path is None:
            return AutoModel.from_config(encoder_config, **kwargs)
        return AutoModel.from_pretrained(name_or_path, config=encoder_config, **kwargs)

    try:
        return build(add_pooling_layer=False)
    except TypeError:  # encoders without a pooler do not take the argument
        return build()


def _parameter_name(module: nn.Module, parameter: nn.Parameter) -> str:
    return next(name for name, candidate in module.named_parameters() if candidate is parameter)


def _check_spans(mention_spans: torch.Tensor, mention_entity_ids: torch.Tensor, input_shape: torch.Size) -> None:
    """Reject spans that would index outside the batch with a message instead of a CUDA/indexing error."""
    if mention_spans.dim() != 2 or mention_spans.size(-1) != 3:
        raise ValueError(f"mention_spans must have shape [mentions, 3], got {tuple(mention_spans.shape)}.")
    if mention_entity_ids.shape != mention_spans.shape[:1]:
        raise ValueError(
            f"mention_entity_ids has shape {tuple(mention_entity_ids.shape)}; expected ({mention_spans.size(0)},)."
        )
    if mention_spans.numel() == 0:
        raise ValueError("mention_spans is empty: every example needs at least one entity mention.")
    rows, starts, ends = mention_spans.unbind(-1)
    problems = (rows < 0) | (rows >= input_shape[0]) | (starts < 0) | (ends <= starts) | (ends > input_shape[1])
    if problems.any():
        index = int(problems.nonzero()[0, 0])
        raise ValueError(
            f"mention_spans[{index}] = {mention_spans[index].tolist()} is outside the sequence: rows must be in "
            f"[0, {input_shape[0]}) and spans must satisfy 0 <= start < end <= {input_shape[1]}."
        )


def _saved_architecture(config: PreTrainedConfig | None, folder, kwargs: dict) -> str | None:
    """The FineCL class a folder was saved from (`architectures` of its config), when it says."""
    if config is None:
        try:
            config = FineCLConfig.from_pretrained(
                folder, **{key: kwargs[key] for key in ("cache_dir", "revision", "token", "local_files_only")
                           if key in kwargs}
            )
        except Exception:  # not loadable here: `from_pretrained` reports it properly
            return None
    architectures = getattr(config, "architectures", None) or []
    return next((name for name in architectures if name.startswith("FineCL")), None)


_HOW_TO_LOAD = {
    "FineCLForPreTraining": "FineCLForPreTraining.from_pretrained or AutoModelForPreTraining (AutoModel / FineCLModel "
    "for entity and relation representations); to fine-tune it, FineCLForRelationExtraction.from_backbone(folder, "
    "num_labels=..., id2label=...) or trainers/finetune.py builds a new classifier on purpose",
    "FineCLForRelationExtraction": "FineCLForRelationExtraction.from_pretrained, AutoModelForSequenceClassification or "
    "pipeline('relation-extraction', model=folder) (AutoModel / FineCLModel for its encoder's representations)",
    "FineCLModel": "FineCLModel.from_pretrained or AutoModel; from_backbone(folder, ...) adds a new head on purpose",
}
_WHAT_IT_IS = {
    "FineCLForPreTraining": "a FineCL pre-training checkpoint (encoder + MLM head, no relation classifier)",
    "FineCLForRelationExtraction": "a fine-tuned FineCL relation-extraction model (encoder + classifier, no MLM head)",
    "FineCLModel": "a bare FineCL encoder (no head)",
}


def _incompatible_message(folder, saved_as: str | None, cls: type, missing_keys: list[str] | None = None) -> str:
    what = _WHAT_IT_IS.get(saved_as, f"a {saved_as} checkpoint" if saved_as else "a FineCL checkpoint")
    lacking = ""
    if missing_keys:
        lacking = f" (it lacks {', '.join(missing_keys[:4])}{' ...' if len(missing_keys) > 4 else ''})"
    how = _HOW_TO_LOAD.get(saved_as, "the class it was saved from")
    return (
        f"{folder} is {what}{lacking}: {cls.__name__} would have to start from randomly initialised weights it does "
        f"not hold, so it is not loaded. Load it with {how}; or pass allow_new_head=True to initialise the missing "
        "weights on purpose."
    )
