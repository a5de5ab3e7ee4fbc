"""Stage 2 end to end: learning-order dataset → `FineCLPreTrainer` → Hub-ready checkpoint (`finecl pretrain`).

`run_pretraining(args)` is what the command runs once its arguments are checked (`finecl_hf.commands.pretrain`);
`build_pretrainer` and `save_pretrained_checkpoint` are its two halves, for scripts that train in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from transformers import AutoTokenizer, TrainerCallback
from transformers.utils import logging

from ..errors import UsageError
from ..modeling import FineCLForPreTraining
from ..weighting import WeightingScheme
from .arguments import CONFIG_FIELDS, FineCLPreTrainingArguments
from .data import PreTrainingData, prepare_pretraining_data
from .data_collator import FineCLPreTrainingCollator
from .model_card import render_pretrained_model_card
from .trainer import FineCLPreTrainer

logger = logging.get_logger(__name__)

# Training hyper-parameters shown in the model card next to the FineCL config fields.
_CARD_TRAINING_FIELDS = (
    "learning_rate",
    "weight_decay",
    "warmup_steps",
    "max_grad_norm",
    "max_steps",
    "lr_scheduler_type",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "max_length",
    "max_no_relation_pairs_per_document",
    "order_by",
    "order_by_within_relation",
    "seed",
    "bf16",
    "fp16",
)


def build_pretrainer(
    args: FineCLPreTrainingArguments, callbacks: list[TrainerCallback] | None = None
) -> tuple[FineCLPreTrainer, PreTrainingData]:
    """Load the tokenizer, data and model named by `args` and wire them into a `FineCLPreTrainer`.

    `FineCLConfig.min/max_learned_epoch` (k_min, k_max of eq. 5) are set from the learning-order data.
    """
    if not args.learning_order_dataset:
        raise UsageError("learning_order_dataset is required: the folder (or Hub id) written by stage 1.")
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer_name or args.model_name_or_path)
    # Rank 0 tokenizes first; the other ranks then read its Arrow cache instead of tokenizing again.
    with args.main_process_first(desc="preparing the pre-training data"):
        data = prepare_pretraining_data(
            args.learning_order_dataset,
            tokenizer,
            max_length=args.max_length,
            split=args.dataset_split,
            no_relation_label=args.no_relation_label,
            num_proc=args.preprocessing_num_workers,
            cache_dir=args.dataset_cache_dir,
            order_by=args.order_score,
            order_by_within_relation=args.order_by_within_relation,
            weighting=args.weighting_scheme,
            truncation_share=args.truncation_share,
        )
    with _whole_model_construction(args):
        model = FineCLForPreTraining.from_backbone(
            args.model_name_or_path, **args.config_overrides(), **data.learned_epoch_config()
        )
    # The saved config names the tokenizer's special tokens (else the Trainer patches them in with a warning).
    for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
        if getattr(tokenizer, name, None) is not None:
            setattr(model.config, name, getattr(tokenizer, name))
    collator = FineCLPreTrainingCollator(
        tokenizer,
        data.relation_names(args.relation_names_file),
        data.index.no_relation_id,
        num_negatives=args.num_negatives,
        mlm_probability=args.mlm_probability,
        max_no_relation_pairs_per_document=args.max_no_relation_pairs_per_document,
        max_length=args.max_length,
        pad_to_multiple_of=args.pad_to_multiple_of,
        seed=args.seed,
    )
    logger.info(
        f"FineCL pre-training: {args.documents_per_step} documents per step = {args.per_device_train_batch_size} per "
        f"device × {args.gradient_accumulation_steps} accumulation steps × {args.world_size} process(es)."
    )
    trainer = FineCLPreTrainer(
        model=model,
        args=args,
        train_dataset=data.dataset,
        data_collator=collator,
        processing_class=tokenizer,
        train_sampler=data.sampler(args.seed),
        callbacks=callbacks,
    )
    return trainer, data


@contextmanager
def _whole_model_construction(args: FineCLPreTrainingArguments) -> Iterator[None]:
    """Build the model unpartitioned on every process, also under DeepSpeed ZeRO-3.

    With a ZeRO-3 config, transformers constructs models inside `deepspeed.zero.Init` (parameters partitioned at
    creation) whatever accelerate's `zero3_init_flag` says; `from_backbone`'s weight copy into a freshly built model
    cannot work on partitioned parameters. FineCL's encoders fit on one device, so the model is built whole and
    ZeRO-3 partitions it when the Trainer initialises DeepSpeed (what `zero3_init_flag: false` means).
    """
    from transformers.integrations import is_deepspeed_zero3_enabled, set_hf_deepspeed_config, unset_hf_deepspeed_config

    holder = getattr(args, "hf_deepspeed_config", None) or getattr(args.deepspeed_plugin, "dschf", None)
    if not is_deepspeed_zero3_enabled() or holder is None:
        yield
        return
    unset_hf_deepspeed_config()
    try:
        yield
    finally:
        set_hf_deepspeed_config(holder)


def save_pretrained_checkpoint(trainer: FineCLPreTrainer, data: PreTrainingData, output_dir: str | None = None) -> Path:
    """Save weights (safetensors), config with `auto_map` and modelling code, tokenizer and the model card.

    Call it on every process: with DeepSpeed ZeRO-3 the weights are gathered from all of them.
    The Trainer's `training_args.bin` (a pickle) is removed: the card lists every hyper-parameter.
    """
    args: FineCLPreTrainingArguments = trainer.args
    output_dir = Path(output_dir or args.output_dir)
    trainer.save_model(str(output_dir))
    if trainer.is_world_process_zero():
        (output_dir / "training_args.bin").unlink(missing_ok=True)
        config = trainer.accelerator.unwrap_model(trainer.model).config
        # The method's settings as the model was built (the learning-order range comes from the data).
        fields = (*CONFIG_FIELDS, "min_learned_epoch", "max_learned_epoch")
        hyperparameters = {name: getattr(config, name) for name in fields}
        hyperparameters |= {name: _plain(getattr(args, name)) for name in _CARD_TRAINING_FIELDS}
        hyperparameters |= {"processes": args.world_size, "documents_per_step": args.documents_per_step}
        card = render_pretrained_model_card(
            model_name=output_dir.name,
            backbone=args.model_name_or_path,
            dataset_source=data.source,
            stage1_metadata=data.card_metadata,
            data_statistics=data.statistics,
            hyperparameters=hyperparameters,
            log_history=trainer.state.log_history,
            logging_steps=args.logging_steps,
            weighting=_weighting_card_data(data, args.weighting_scheme),
        )
        card.save(output_dir / "README.md")
    return output_dir


def run_pretraining(args: FineCLPreTrainingArguments) -> Path:
    """Train and save one FineCL checkpoint; `--resume_from_checkpoint last` goes on from the last complete one."""
    import transformers
    from transformers import set_seed

    from ..checkpointing import clear_earlier_run, resolve_resume_checkpoint

    transformers.utils.logging.set_verbosity(args.get_process_log_level())
    transformers.utils.logging.enable_default_handler()
    transformers.utils.logging.enable_explicit_format()
    # `last` resumes from the last completely written checkpoint; a half-written one is refused before data preparation.
    resume_from_checkpoint = resolve_resume_checkpoint(args.resume_from_checkpoint, args.output_dir)
    clear_earlier_run(args)
    set_seed(args.seed)
    trainer, data = build_pretrainer(args)
    train_result = trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    output_dir = save_pretrained_checkpoint(trainer, data)
    trainer.log_metrics("train", train_result.metrics)
    trainer.save_metrics("train", train_result.metrics)
    trainer.save_state()  # trainer_state.json: the full log history (loss, ed_loss, rd_loss, mlm_loss per interval)
    if trainer.is_world_process_zero():
        print(f"Saved the FineCL checkpoint, its tokenizer and model card to {output_dir}")
    return output_dir


def _weighting_card_data(data: PreTrainingData, scheme: WeightingScheme) -> dict | None:
    """What the card says of a corpus weighting scheme's fit (`None` for an epoch scheme)."""
    fit = data.weighting_fit
    if fit is None:
        return None
    return {"description": scheme.description, "summary": fit.summary, "estimated_noise_rate": fit.estimated_noise_rate}


def _plain(value):
    """Enum members (e.g. `lr_scheduler_type`) as their string value, for the card."""
    return getattr(value, "value", value)


__all__ = [
    "build_pretrainer",
    "run_pretraining",
    "save_pretrained_checkpoint",
]
