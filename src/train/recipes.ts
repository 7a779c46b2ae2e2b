import { UserError } from '../errors.js';
import type { TrainConfig } from './args.js';

/**
 * The original project's fine-tuning recipes as LLaMA-Factory configs. Each value says where it comes from: the
 * catalog's recipes (src/hub/catalog.ts, from the seed README and the models' cards) or LLaMA-Factory's own
 * examples (examples/train_lora, train_full, train_qlora at 0.9.6.dev0). Where llama3-zh chose a value itself,
 * the recipe says so.
 */
export interface Recipe {
  name: string;
  title: string;
  /** Where the values come from, one sentence a line (printed by `train recipes NAME`). */
  from: string[];
  /** What --data must hold: conversations (SFT) or preference pairs (DPO/ORPO). */
  data: 'chat' | 'pair';
  dataHelp: string;
  /** The model the recipe was made for, used when --model is not given. */
  defaultModel: string;
  /** The keys the recipe sets over COMMON (model_name_or_path, dataset and deepspeed are filled in by init). */
  config: TrainConfig;
  /** A short why after a key in train.yaml. */
  comments: Record<string, string>;
}

/** Keys every recipe shares: LLaMA-Factory's examples/train_lora/*.yaml, in their order. */
export const COMMON_FROM = "common keys: LLaMA-Factory 0.9.6.dev0's examples/train_lora/*.yaml (batch 1 × 8 accumulation steps, cosine schedule, 10% warm-up, bf16)";

function common(): { head: TrainConfig; dataset: TrainConfig; output: TrainConfig; train: TrainConfig } {
  return {
    head: { do_train: true, finetuning_type: 'lora', lora_target: 'all' },
    dataset: { dataset_dir: 'data', dataset: null, template: 'llama3', cutoff_len: 2048, preprocessing_num_workers: 16, dataloader_num_workers: 4 },
    output: { output_dir: 'output', logging_steps: 10, save_steps: 500, plot_loss: true, overwrite_output_dir: false, save_only_model: false, report_to: 'none' },
    train: { per_device_train_batch_size: 1, gradient_accumulation_steps: 8, learning_rate: 1.0e-4, num_train_epochs: 3.0, lr_scheduler_type: 'cosine', warmup_ratio: 0.1, bf16: true, ddp_timeout: 180000000 },
  };
}

const COMMON_COMMENTS: Record<string, string> = {
  overwrite_output_dir: 'llama3-zh refuses a used folder itself; false keeps LLaMA-Factory resuming an interrupted run from its last checkpoint',
  cutoff_len: 'checked against the data by train init',
};

/** One recipe's config in train.yaml's order: model, method, dataset, output, train. */
function build(o: { model?: TrainConfig; method: TrainConfig; dataset?: TrainConfig; train: TrainConfig }): TrainConfig {
  const c = common();
  return {
    model_name_or_path: null, ...o.model,
    stage: 'sft', ...c.head, ...o.method,
    ...c.dataset, ...o.dataset,
    ...c.output,
    ...c.train, ...o.train,
  };
}

export const RECIPES: readonly Recipe[] = ([
  {
    name: 'sft-base-zh',
    title: "shareAI's V1/V2: Meta-Llama-3-8B (base) + Chinese multi-turn SFT, all parameters",
    from: [
      'catalog llama3-8b-sft-zh-v1 / -v2: SFT of Meta-Llama-3-8B (base) on 170k+ multi-turn Chinese dialogues (data baicai003/Llama3-Chinese-dataset); V1 and V2 shipped full weights, so finetuning_type full',
      'DeepSpeed ZeRO-3, learning_rate 1.0e-05, 3 epochs: LLaMA-Factory examples/train_full/qwen3_full_sft.yaml',
      'template default: LLaMA-Factory\'s README, "For the base models, the template argument can be chosen from default, alpaca, vicuna etc." (a base model never learned the llama3 template\'s header tokens)',
      COMMON_FROM,
    ],
    data: 'chat',
    dataHelp: 'conversations (ShareGPT, OpenAI messages, Alpaca, Firefly…), e.g. baicai003/Llama3-Chinese-dataset',
    defaultModel: 'meta-llama/Meta-Llama-3-8B',
    config: build({
      method: { finetuning_type: 'full', lora_target: undefined as never },
      dataset: { template: 'default' },
      train: { learning_rate: 1.0e-5 },
    }),
    comments: { template: "LLaMA-Factory's advice for a base model; chat with it as llama3-zh's lf-default" },
  },
  {
    name: 'sft-instruct-zh',
    title: 'Meta-Llama-3-8B-Instruct + Chinese SFT, LoRA',
    from: [
      'catalog llama3-8b-instruct-sft-zh: continued Chinese SFT of Meta-Llama-3-8B-Instruct',
      "LoRA rank 64, alpha 128: llama3-zh's choice for a language adaptation (LLaMA-Factory's example uses rank 8)",
      'learning_rate 1.0e-04, 3 epochs: LLaMA-Factory examples/train_lora/qwen3_lora_sft.yaml; template llama3, the Instruct model\'s own',
      COMMON_FROM,
    ],
    data: 'chat',
    dataHelp: 'conversations (ShareGPT, OpenAI messages, Alpaca, Firefly…)',
    defaultModel: 'meta-llama/Meta-Llama-3-8B-Instruct',
    config: build({ method: { lora_rank: 64, lora_alpha: 128 }, train: {} }),
    comments: { lora_rank: "llama3-zh's choice for a language adaptation (LLaMA-Factory's example: 8)" },
  },
  {
    name: 'dpo-zh',
    title: "shareAI's DPO: Llama-3.1-8B-Instruct + Chinese preference pairs, beta 0.5, LoRA 128/256 with lm_head and the norms",
    from: [
      'catalog llama3.1-8b-dpo-zh (the seed README): DPO beta 0.5, LoRA rank 128, alpha 256 on all linear layers; lm_head, input_layernorm, post_attention_layernorm and norm trained; data shareAI/DPO-zh-en-emoji',
      'learning_rate 5.0e-06, 3 epochs, pref_loss sigmoid (DPO): LLaMA-Factory examples/train_lora/qwen3_lora_dpo.yaml',
      COMMON_FROM,
    ],
    data: 'pair',
    dataHelp: 'preference pairs (prompt, chosen, rejected), e.g. shareAI/DPO-zh-en-emoji',
    defaultModel: 'meta-llama/Llama-3.1-8B-Instruct',
    config: build({
      method: { stage: 'dpo', lora_rank: 128, lora_alpha: 256, additional_target: 'lm_head,input_layernorm,post_attention_layernorm,norm', pref_beta: 0.5, pref_loss: 'sigmoid' },
      train: { learning_rate: 5.0e-6 },
    }),
    comments: { pref_beta: "shareAI's beta 0.5", additional_target: 'trained in full beside the LoRA (PEFT modules_to_save), as shareAI did' },
  },
  {
    name: 'orpo-zh',
    title: "shenzhi-wang's Llama3-8B-Chinese-Chat: ORPO of Meta-Llama-3-8B-Instruct, here as LoRA",
    from: [
      'catalog shenzhi-llama3-8b-chat (its model card): ORPO of Meta-Llama-3-8B-Instruct on hiyouga/DPO-En-Zh-20k with LLaMA-Factory; beta 0.05, learning_rate 3.0e-06, 2 epochs',
      'the card trained all parameters (and cut at 8192 tokens); this recipe uses LoRA rank 64, alpha 128 so it fits one GPU (llama3-zh\'s choice), and cutoff_len 2048, checked against the data',
      COMMON_FROM,
    ],
    data: 'pair',
    dataHelp: 'preference pairs (prompt, chosen, rejected), e.g. hiyouga/DPO-En-Zh-20k',
    defaultModel: 'meta-llama/Meta-Llama-3-8B-Instruct',
    config: build({
      method: { stage: 'dpo', lora_rank: 64, lora_alpha: 128, pref_beta: 0.05, pref_loss: 'orpo' },
      train: { learning_rate: 3.0e-6, num_train_epochs: 2.0 },
    }),
    comments: { pref_loss: 'ORPO: no reference model', lora_rank: 'the model card trained all parameters; LoRA so it fits one GPU' },
  },
  {
    name: 'qlora-sft-zh',
    title: 'Meta-Llama-3-8B-Instruct + Chinese SFT on a 4-bit base (QLoRA)',
    from: [
      'as sft-instruct-zh (catalog llama3-8b-instruct-sft-zh), with the base quantized to 4 bits: quantization_bit 4, quantization_method bnb (LLaMA-Factory examples/train_qlora/qwen3_lora_sft_otfq.yaml)',
      "LoRA rank 64, alpha 128: llama3-zh's choice; learning_rate 1.0e-04",
      'no DeepSpeed: a bitsandbytes 4-bit model under ZeRO-3 is a special case; several GPUs run plain DDP',
      COMMON_FROM,
    ],
    data: 'chat',
    dataHelp: 'conversations (ShareGPT, OpenAI messages, Alpaca, Firefly…)',
    defaultModel: 'meta-llama/Meta-Llama-3-8B-Instruct',
    config: build({ model: { quantization_bit: 4, quantization_method: 'bnb' }, method: { lora_rank: 64, lora_alpha: 128 }, train: {} }),
    comments: { quantization_bit: 'QLoRA: NF4 base (bitsandbytes)' },
  },
] as Recipe[]).map((r) => ({ ...r, config: dropUndefined(r.config), comments: { ...COMMON_COMMENTS, ...r.comments } }));

function dropUndefined(c: TrainConfig): TrainConfig {
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
}

export function findRecipe(name: string): Recipe {
  const r = RECIPES.find((x) => x.name === name);
  if (!r) throw new UserError(`unknown recipe "${name}"; recipes: ${RECIPES.map((x) => x.name).join(', ')} (llama3-zh train recipes)`, 2);
  return r;
}
