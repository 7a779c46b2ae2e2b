/**
 * Every model the original llama3-Chinese-chat README lists (sections "llama3 可用Chat版模型整理" and
 * "llama3相关对话版本优质权重整理"), as reviewed data: where the weights are, which chat template and stop
 * token to use, how long a context, and what the README says about training.
 *
 * Rules this file follows:
 * - Repo ids come from the README's URLs. A repo on the other hub is added only where a public page
 *   confirms it (the comment says which).
 * - `sources` holds repos with the full weights (or the adapter, for LoRA entries); `gguf` holds repos with
 *   GGUF files. A repo that holds only GGUF files is listed under `gguf`, not `sources`.
 * - Template: Llama-3 Instruct fine-tunes use `llama3`, Llama-3.1 ones `llama3.1`; models trained with a
 *   format of their own use `jinja` (the template that ships with the model: tokenizer_config.json, and
 *   in a converted GGUF tokenizer.chat_template) or `chatml`. The stop token is the one that format ends a
 *   reply with.
 */

import { HUB_IDS, type HubId } from './hubs.js';

export { HUB_IDS, type HubId };

export interface CatalogModel {
  /** CLI name: lowercase [a-z0-9.-], unique, short, e.g. 'llama3.1-8b-dpo-zh'. */
  name: string;
  /** What the README calls it (Chinese is fine). */
  title: string;
  publisher: string;
  family: 'Llama-3' | 'Llama-3.1';
  /** '8B' | '70B' | '405B' | '8x8B' | ... */
  size: string;
  /** From KINDS. */
  kind: string[];
  /** What the README (or the model's own card, where said) gives about training. */
  recipe?: string;
  /** Repo ids per hub (owner/name) where the weights are; other sites as URLs. */
  sources: Partial<Record<HubId, string>> & { opencsg?: string; wisemodel?: string; openxlab?: string; github?: string };
  /** Repos that hold GGUF files, per hub, with the file names known per quant; {} when not known. */
  gguf?: Partial<Record<HubId, { repo: string; files: Record<string, string> }>>;
  /** A name from src/chat/templates.ts TEMPLATE_NAMES. */
  template: string;
  /** The token that ends a reply in that template. */
  stop: string;
  /** Tokens the model is meant to run with. */
  contextLength: number;
  notes?: string;
  /** Whether pull can fetch it from a hub at all (false when it is on neither Hugging Face nor ModelScope). */
  pullable: boolean;
  /** A LoRA adapter's base model (a catalog name): what chat pulls and applies it over. */
  base?: string;
}

export const KINDS = [
  'base+SFT', 'instruct+SFT', 'instruct+DPO', 'base+ORPO', 'instruct+ORPO', 'long-context', 'agent',
  'multimodal', 'uncensored', 'domain', 'MoE', 'LoRA adapter', 'added blocks',
] as const;

const EOT = '<|eot_id|>';
const END_OF_TEXT = '<|end_of_text|>';
const L3 = 8192;
const L31 = 131072;

export const DEFAULT_MODEL_NAME = 'llama3.1-8b-dpo-zh';

export const CATALOG: readonly CatalogModel[] = [
  // ── llama3.1 ───────────────────────────────────────────────────────────────────────────────────
  {
    name: 'llama3.1-8b-dpo-zh',
    title: 'shareAI-DPO中文 8B版本（RLHF中文）',
    publisher: 'shareAI',
    family: 'Llama-3.1',
    size: '8B',
    kind: ['instruct+DPO'],
    recipe: 'DPO beta 0.5 + LoRA rank 128, alpha 256; lm_head, input_layernorm, post_attention_layernorm and norm trained; '
      + 'data shareAI/DPO-zh-en-emoji; 8 × A100, 5 minutes',
    // The Hugging Face repo holds only the Q4_K_M GGUF (its file list: README.md and the .gguf, 4.92 GB);
    // its model card points to ModelScope for the full weights.
    sources: {
      modelscope: 'shareAI/llama3.1-8b-instruct-dpo-zh',
      opencsg: 'https://opencsg.com/models/shareAI/llama3.1-8b-instruct-dpo-zh',
    },
    gguf: {
      huggingface: { repo: 'shareAI/llama3.1-8b-instruct-dpo-zh', files: { Q4_K_M: 'llama3.1_8b_chinese_chat_q4_k_m-shareAI.gguf' } },
    },
    // DPO on Llama-3.1-8B-Instruct keeps Meta's 3.1 chat format.
    template: 'llama3.1',
    stop: EOT,
    contextLength: L31,
    notes: 'The default model. The Hugging Face repo (and its mirror hf-mirror.com) holds only the Q4_K_M GGUF, 4.92 GB; '
      + 'the safetensors are on ModelScope. Also on ollama: ollama run shareai/llama3.1-dpo-zh',
    pullable: true,
  },
  {
    name: 'wukong-405b-zh',
    title: 'openCSG wukong中文 405B版本（SFT中文）',
    publisher: 'OpenCSG',
    family: 'Llama-3.1',
    size: '405B',
    kind: ['instruct+SFT', 'LoRA adapter'],
    recipe: 'Chinese SFT as a LoRA on Meta-Llama-3.1-405B-Instruct: rank 128, alpha 256 by the model card '
      + '(its adapter_config.json says lora_alpha 32), on q_proj, k_proj, v_proj',
    // The README links OpenCSG only; the Hugging Face repo (owner spelled "opencsg") holds the same adapter:
    // adapter_config.json + adapter_model.safetensors (2.25 GB).
    sources: {
      huggingface: 'opencsg/CSG-Wukong-Chinese-Llama3.1-405B',
      opencsg: 'https://opencsg.com/models/OpenCSG/CSG-Wukong-Chinese-Llama3.1-405B',
    },
    template: 'llama3.1',
    stop: EOT,
    contextLength: L31,
    notes: 'shareAI & OpenCSG. A LoRA adapter, not merged weights: it needs Meta-Llama-3.1-405B-Instruct, about 810 GB in BF16 '
      + '(the model card ran it on 8 × H100 in 4-bit).',
    pullable: true,
  },
  {
    name: 'openbuddy-llama3.1-8b',
    title: 'openbuddy-llama3.1-8b（SFT中文）',
    publisher: 'OpenBuddy',
    family: 'Llama-3.1',
    size: '8B',
    // Not stated for this model; OpenBuddy has built on base models (its reply on its Llama-2 model's Hugging Face page)
    // and adds role tokens of its own, so base+SFT is assumed.
    kind: ['base+SFT'],
    sources: { modelscope: 'OpenBuddy/openbuddy-llama3.1-8b-v22.1-131k' },
    // OpenBuddy's own format (<|role|>user<|says|>…<|end|>), shipped in its tokenizer_config.json.
    template: 'jinja',
    stop: '<|end|>',
    contextLength: L31,
    notes: "Uses OpenBuddy's chat format, not Llama-3's: run it with the template the model ships (--template jinja).",
    pullable: true,
  },

  // ── shareAI: base + Chinese SFT ────────────────────────────────────────────────────────────────
  {
    name: 'llama3-8b-sft-zh-v1',
    title: 'shareAI llama3-Chinese-chat-8b V1版（base预训练 + 直接中文SFT）',
    publisher: 'shareAI',
    family: 'Llama-3',
    size: '8B',
    kind: ['base+SFT'],
    recipe: 'SFT of Meta-Llama-3-8B (base) on 170k+ multi-turn Chinese dialogues (data: baicai003/Llama3-Chinese-dataset)',
    sources: {
      opencsg: 'https://opencsg.com/models/shareAI/llama3-Chinese-chat-8b',
      wisemodel: 'https://wisemodel.cn/models/shareAI/llama3-Chinese-chat-8b',
    },
    // The README's Python demo and web_streamlit_for_v1.py: <<SYS>> system block, replies end with <|end_of_text|>.
    template: 'llama3-v1',
    stop: END_OF_TEXT,
    contextLength: L3,
    notes: 'OpenCSG and WiseModel only (git clone https://opencsg.com/models/shareAI/llama3-Chinese-chat-8b.git). '
      + 'Trained with the v1 format and its English system prompt; a base+SFT model may answer off-script on uncommon questions.',
    pullable: false,
  },
  {
    name: 'llama3-8b-sft-zh-v2',
    title: 'shareAI Llama3-Chinese V2版（base预训练 + 直接中文SFT）',
    publisher: 'shareAI',
    family: 'Llama-3',
    size: '8B',
    kind: ['base+SFT'],
    recipe: 'second round of SFT of Meta-Llama-3-8B (base), hours after V1 (data: baicai003/Llama3-Chinese-dataset)',
    sources: { modelscope: 'baicai003/Llama3-Chinese_v2' },
    // The README documents a chat format for V1 only; V2 is the same base+SFT line from the same pipeline,
    // so the V1 format is the closest known. Both end-of-reply tokens stop generation with either template.
    template: 'llama3-v1',
    stop: END_OF_TEXT,
    contextLength: L3,
    notes: 'The README gives no chat format for V2; llama3-v1 (as V1) is assumed. If replies look wrong, try --template llama3.',
    pullable: true,
  },
  {
    name: 'llama3-8b-doc2markmap-lora',
    title: '思维导图生成能力强化LoRA（shareAI）',
    publisher: 'shareAI',
    family: 'Llama-3',
    size: '8B',
    kind: ['LoRA adapter', 'domain'],
    recipe: 'LoRA for turning articles into markmap mind maps; data: shareAI/doc2markmap (CSDN and WeChat articles with their mind maps)',
    sources: { modelscope: 'shareAI/llama3-instruct-8b-cn-doc2markmap-lora' },
    // "instruct-8b-cn" in its name: an adapter for a Chinese Llama-3-8B-Instruct model, so the Llama-3 format.
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: 'An adapter, not a model: load it over its base (by its name, a Chinese Llama-3-8B-Instruct such as llama3-8b-instruct-sft-zh) '
      + 'after converting it to a GGUF adapter, with --lora.',
    pullable: true,
    // The base chat pulls for it: the README names none; shareAI's own Chinese SFT of Llama-3-8B-Instruct is the
    // "such as" of the note above (its adapter_config.json names a path on the trainer's machine, if anything).
    base: 'llama3-8b-instruct-sft-zh',
  },
  // ── shareAI: instruct + Chinese SFT / DPO ──────────────────────────────────────────────────────
  {
    name: 'llama3-8b-instruct-sft-zh',
    title: 'shareAI Instruct + 继续中文SFT版',
    publisher: 'shareAI',
    family: 'Llama-3',
    size: '8B',
    kind: ['instruct+SFT'],
    recipe: 'continued Chinese SFT of Meta-Llama-3-8B-Instruct',
    sources: { modelscope: 'baicai003/llama-3-8b-Instruct-chinese_v2' },
    // An Instruct fine-tune: Meta's format. The README's web_streamlit_for_instruct.py writes the system prompt
    // v1-style (<<SYS>>…<</SYS>>) with <|eot_id|> turns; the header format is what the instruct model knows best.
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: "The README's Streamlit demo for it writes the system prompt as <<SYS>>…<</SYS>>; --template llama3-v1 reproduces that first turn.",
    pullable: true,
  },
  {
    name: 'llama3-8b-dpo-zh',
    title: 'shareAI llama3 instruct DPO版（Instruct + 强化学习中文版）',
    publisher: 'shareAI',
    family: 'Llama-3',
    size: '8B',
    kind: ['instruct+DPO'],
    recipe: 'DPO beta 0.5 of Meta-Llama-3-8B-Instruct on shareAI/DPO-zh-en-emoji (Chinese preferred over English answers, '
      + 'playful tone and emoji kept); about 10 minutes of training',
    sources: { modelscope: 'baicai003/Llama3-Chinese-instruct-DPO-beta0.5' },
    gguf: { modelscope: { repo: 'shareAI/llama-3-8b-Instruct-dpo-chinese-loftq-gguf', files: {} } },
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: 'Minimal damage to the multilingual Instruct model (the README). Demo: web_streamlit_for_instruct_v2.py.',
    pullable: true,
  },

  // ── zhuangxialie ───────────────────────────────────────────────────────────────────────────────
  // The README: "因对话模版设置错误，需要用fastchat体验". FastChat serves Llama-3 models with its llama-3
  // conversation, which is Meta's format stopping at <|eot_id|> and <|end_of_text|>: that is `llama3`.
  {
    name: 'zhuangxialie-8b-sft',
    title: 'zhuangxialie Base + 中文SFT',
    publisher: 'zhuangxialie',
    family: 'Llama-3',
    size: '8B',
    kind: ['base+SFT'],
    sources: { modelscope: 'zhuangxialie/Llama3_Chinese_Sft' },
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: "Needs FastChat's template (the README says its own chat template was set wrong); llama3 is that format.",
    pullable: true,
  },
  {
    name: 'zhuangxialie-8b-orpo',
    title: 'zhuangxialie Base + ORPO',
    publisher: 'zhuangxialie',
    family: 'Llama-3',
    size: '8B',
    kind: ['base+ORPO'],
    sources: { modelscope: 'zhuangxialie/Llama3-Chinese-ORPO' },
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: "Needs FastChat's template (the README says its own chat template was set wrong); llama3 is that format.",
    pullable: true,
  },
  {
    name: 'zhuangxialie-8b-dpo',
    title: 'zhuangxialie Instruct + DPO',
    publisher: 'zhuangxialie',
    family: 'Llama-3',
    size: '8B',
    kind: ['instruct+DPO'],
    sources: { modelscope: 'zhuangxialie/Llama3-Chinese-DPO' },
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: "Needs FastChat's template (the README says its own chat template was set wrong); llama3 is that format.",
    pullable: true,
  },

  // ── Llama 3 Pro (added blocks) and MoE: GitHub only ────────────────────────────────────────────
  {
    name: 'llama3-pro-orpo-zh',
    title: 'llama3 Pro 加block版（linjh1118，第一个ORPO偏好对齐 + 扩展2*blocks）',
    publisher: 'linjh1118',
    family: 'Llama-3',
    size: '8B',
    kind: ['base+ORPO', 'added blocks'],
    recipe: 'continued pre-training, SFT, then ORPO (its GitHub README); 2 added blocks, LLaMA Pro style (the README)',
    sources: { github: 'https://github.com/linjh1118/Llama3-Chinese-ORPO' },
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: 'GitHub only, no weights on a hub; the chat format is not documented (llama3 assumed).',
    pullable: false,
  },
  {
    name: 'llama3-8x8b-moe',
    title: 'llama3 Moe增强版（cooper12121-llama3-8x8b-MoE）',
    publisher: 'cooper12121',
    family: 'Llama-3',
    size: '8x8B',
    kind: ['MoE'],
    recipe: "Llama-3-8B-Instruct's MLP copied into 8 experts behind a new router (random, or warm-started from Chinese-Mixtral's); "
      + 'the other weights unchanged',
    sources: { github: 'https://github.com/cooper12121/llama3-8x8b-MoE' },
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: 'GitHub only in the README; its GitHub README gives the weights as gao-NLP/Llama3-8x8b-MoE-Instruct (and -Base) on Hugging Face. '
      + 'Custom modeling code (trust_remote_code): llama.cpp cannot load it as is.',
    pullable: false,
  },

  // ── long context ───────────────────────────────────────────────────────────────────────────────
  {
    name: 'unichat-8b-28k',
    title: '联通微调版v2（中文，28k上下文）Unichat-llama3-Chinese-8B-28K',
    publisher: 'UnicomAI',
    family: 'Llama-3',
    size: '8B',
    kind: ['instruct+SFT', 'long-context'],
    recipe: 'Chinese instruction SFT with full parameters, long-text version with 28K input (Unicom\'s GitHub README)',
    // Unicom's GitHub README lists the same model on ModelScope as UnicomAI/Unichat-llama3-Chinese-8B-28K.
    sources: { huggingface: 'UnicomLLM/Unichat-llama3-Chinese-8B-28K', modelscope: 'UnicomAI/Unichat-llama3-Chinese-8B-28K' },
    // Its tokenizer_config.json template is Unicom's own "Human:…\nAssistant:" with eos <|end_of_text|>
    // (LLaMA-Factory template "llama3-unichat"), not Meta's.
    template: 'jinja',
    stop: END_OF_TEXT,
    // "28K" = 28 × 1024 tokens, as the README and Unicom's README say; its config.json was not at hand to check.
    contextLength: 28672,
    notes: "Uses Unicom's Human:/Assistant: format, not Llama-3's: run it with the template it ships (--template jinja). Weights are PyTorch .bin files.",
    pullable: true,
  },
  {
    name: 'llama3-8b-instruct-262k',
    title: '262k上下文（英文）Llama-3-8B-Instruct-262k',
    publisher: 'gradientai',
    family: 'Llama-3',
    size: '8B',
    kind: ['long-context'],
    recipe: 'Meta-Llama-3-8B-Instruct with a larger RoPE theta (NTK-aware start, then tuned on data), trained progressively '
      + 'to 262144-token sequences on under 200M tokens (model card)',
    sources: { huggingface: 'gradientai/Llama-3-8B-Instruct-262k' },
    // Its model card names the GGUF repo; file names not recorded here.
    gguf: { huggingface: { repo: 'crusoeai/Llama-3-8B-Instruct-262k-GGUF', files: {} } },
    template: 'llama3',
    stop: EOT,
    contextLength: 262144,
    notes: 'English. max_position_embeddings 262144 in its config.json; a KV cache that long needs far more memory than the weights.',
    pullable: true,
  },

  // ── other Chinese fine-tunes ───────────────────────────────────────────────────────────────────
  {
    name: 'zte-llama3-70b-zh',
    title: '中兴微调版（DPO）- 70B',
    publisher: 'ZTE',
    family: 'Llama-3',
    size: '70B',
    kind: ['instruct+DPO'],
    sources: { modelscope: 'ZTEAIM2024/Llama3_70B_instruct_chinese' },
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: '70B: about 141 GB in BF16, about 43 GB as Q4_K_M.',
    pullable: true,
  },
  {
    name: 'unichat-8b',
    title: '联通微调版（SFT）Unichat-llama3-Chinese',
    publisher: 'UnicomAI',
    family: 'Llama-3',
    size: '8B',
    kind: ['instruct+SFT'],
    recipe: 'full-parameter Chinese instruction SFT of Meta-Llama-3-8B-Instruct (model card)',
    // Unicom's GitHub README: ModelScope UnicomAI/Unichat-llama3-Chinese = Hugging Face UnicomLLM/Unichat-llama3-Chinese-8B.
    sources: { modelscope: 'UnicomAI/Unichat-llama3-Chinese', huggingface: 'UnicomLLM/Unichat-llama3-Chinese-8B' },
    // Unicom: "8B模型非官方对话模板，参考tokenizer_config.json" — the Human:/Assistant: format ending with <|end_of_text|>.
    template: 'jinja',
    stop: END_OF_TEXT,
    contextLength: L3,
    notes: "Uses Unicom's Human:/Assistant: format, not Llama-3's: run it with the template it ships (--template jinja). Weights are PyTorch .bin files.",
    pullable: true,
  },
  {
    name: 'openbuddy-llama3-8b',
    title: 'Openbuddy微调版（SFT，据说不错）openbuddy-llama3-8b-v21.1-8k',
    publisher: 'OpenBuddy',
    family: 'Llama-3',
    size: '8B',
    kind: ['base+SFT'], // assumed, as for openbuddy-llama3.1-8b
    // The same repo id exists on Hugging Face (its model card documents the <|role|>/<|says|>/<|end|> format).
    sources: { modelscope: 'OpenBuddy/openbuddy-llama3-8b-v21.1-8k', huggingface: 'OpenBuddy/openbuddy-llama3-8b-v21.1-8k' },
    template: 'jinja',
    stop: '<|end|>',
    contextLength: L3,
    notes: "Uses OpenBuddy's chat format (<|role|>user<|says|>…<|end|>), not Llama-3's: run it with the template it ships (--template jinja).",
    pullable: true,
  },
  {
    name: 'zhichen-llama3-8b-zh',
    title: 'zhichen微调版（ORPO方法，应该是第一个orpo）',
    publisher: 'zhichen',
    family: 'Llama-3',
    size: '8B',
    // The README calls it ORPO; its own README describes SFT of the base model.
    kind: ['base+SFT'],
    recipe: 'DoRA + LoRA+ SFT of Meta-Llama-3-8B on 500k Chinese and 100k English multi-turn samples and 2k self-cognition samples (its GitHub README)',
    sources: { github: 'https://github.com/seanzhang-zhichen/llama3-chinese' },
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: 'GitHub only in the README (which calls it an ORPO model; its own README says SFT). Its GitHub README gives the weights as '
      + 'zhichen/Llama3-Chinese on Hugging Face and seanzhang/Llama3-Chinese on ModelScope.',
    pullable: false,
  },
  {
    name: 'shenzhi-llama3-8b-chat',
    title: 'shenzhi-wang微调版（ORPO方法）Llama3-8B-Chinese-Chat',
    publisher: 'shenzhi-wang',
    family: 'Llama-3',
    size: '8B',
    kind: ['instruct+ORPO'],
    recipe: 'ORPO of Meta-Llama-3-8B-Instruct on hiyouga/DPO-En-Zh-20k with LLaMA-Factory (model card)',
    sources: { huggingface: 'shenzhi-wang/Llama3-8B-Chinese-Chat' },
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    pullable: true,
  },
  {
    name: 'rookie-llama3-8b-zh',
    title: 'Rookie微调版（SFT）Llama-3-8B-Instruct-Chinese',
    publisher: 'Rookie1019',
    family: 'Llama-3',
    size: '8B',
    kind: ['instruct+SFT'],
    sources: { github: 'https://github.com/Rookie1019/Llama-3-8B-Instruct-Chinese' },
    // Its README's demo registers Meta's header format with stop <|eot_id|>.
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: 'GitHub only, no weights on a hub.',
    pullable: false,
  },
  {
    name: 'hitsz-llama3-8b-zh',
    title: 'hit-sz klc-lab 微调版 Llama-3-Chinese',
    publisher: 'hit-sz klc-lab',
    family: 'Llama-3',
    size: '8B',
    kind: ['instruct+SFT'],
    sources: { github: 'https://github.com/zyg18181818/Llama-3-Chinese' },
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: 'GitHub only in the README; its GitHub README gives the weights as unstoppable123/Llama-3-8B-Chinese-chat-v0.1 on Hugging Face '
      + '(and a LoRA, unstoppable123/Llama-3-8B-chinese-lora-v0.1).',
    pullable: false,
  },

  // ── uncensored ─────────────────────────────────────────────────────────────────────────────────
  {
    name: 'llama3-8b-unholy',
    title: '破解安全限制系列 Unholy（Llama-3-Unholy-8B）',
    publisher: 'Undi95',
    family: 'Llama-3',
    size: '8B',
    kind: ['uncensored'],
    sources: { huggingface: 'Undi95/Llama-3-Unholy-8B' },
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: 'English, uncensored (nsfw). Its training is not described; the Llama-3 chat format is assumed.',
    pullable: true,
  },
  {
    name: 'llama3-8b-neural-chat',
    title: '破解安全限制系列 neural-chat（llama-3-neural-chat-v1-8b）',
    publisher: 'Locutusque',
    family: 'Llama-3',
    size: '8B',
    kind: ['uncensored'],
    // The README links it via hf-mirror.com; the repo's tokenizer_config.json was changed to ChatML ("Change chat template to chatml").
    sources: { huggingface: 'Locutusque/llama-3-neural-chat-v1-8b' },
    template: 'chatml',
    stop: '<|im_end|>',
    contextLength: L3,
    notes: 'English, uncensored. ChatML format.',
    pullable: true,
  },
  {
    name: 'dolphin-2.9-llama3-8b',
    title: '破解安全限制系列 dolphin（dolphin-2.9-llama3-8b）',
    publisher: 'cognitivecomputations',
    family: 'Llama-3',
    size: '8B',
    kind: ['base+SFT', 'uncensored'],
    recipe: 'full fine-tune of Meta-Llama-3-8B with 4K sequences in ChatML; dataset filtered to remove alignment (model card)',
    sources: { huggingface: 'cognitivecomputations/dolphin-2.9-llama3-8b' },
    // ChatML with <|im_start|>/<|im_end|> added as tokens 128256/128257; eos_token_id 128256 = <|im_end|>.
    template: 'chatml',
    stop: '<|im_end|>',
    contextLength: L3,
    notes: 'English, uncensored. ChatML format.',
    pullable: true,
  },
  {
    name: 'orion-llama3-70b-zh',
    title: '破解安全限制系列 Orion（破限+中文，保留了原版llama3喜欢emoji的习惯）',
    publisher: 'Orion-zhen',
    family: 'Llama-3',
    size: '70B',
    kind: ['instruct+DPO', 'uncensored'],
    recipe: 'Chinese DPO of an abliterated Llama-3-70B-Instruct (as its -SE sibling\'s card describes the line)',
    sources: { huggingface: 'Orion-zhen/Llama3-70B-Orion-Chinese' },
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: 'Uncensored and Chinese; keeps Llama-3\'s fondness for emoji (the README). 70B: about 141 GB in BF16, about 43 GB as Q4_K_M.',
    pullable: true,
  },

  // ── multimodal ─────────────────────────────────────────────────────────────────────────────────
  {
    name: 'bunny-llama3-8b-v',
    title: 'v-llama3 多模态版 图像问答 Bunny-Llama-3-8B-V',
    publisher: 'BAAI',
    family: 'Llama-3',
    size: '8B',
    kind: ['multimodal'],
    // The README links WiseModel; BAAI publishes the same repo on Hugging Face (safetensors + custom code).
    sources: { wisemodel: 'https://wisemodel.cn/models/BAAI/Bunny-Llama-3-8B-V', huggingface: 'BAAI/Bunny-Llama-3-8B-V' },
    // Bunny prompts with its own "A chat between … USER: <image>\n… ASSISTANT:" text, no Llama-3 template fits.
    template: 'jinja',
    stop: EOT,
    contextLength: L3,
    notes: 'Image question answering; needs its vision tower and custom code (trust_remote_code). Its prompt format is its own '
      + '(USER: … ASSISTANT:); the stop token is assumed from its Llama-3-8B-Instruct base. Text chat in llama3-zh cannot use the image part.',
    pullable: true,
  },
  {
    name: 'llava-llama3-8b',
    title: 'v-llama3 多模态版 图像问答 llava-llama-3-8b-v1_1',
    publisher: 'xtuner',
    family: 'Llama-3',
    size: '8B',
    kind: ['multimodal'],
    recipe: 'LLaVA from Meta-Llama-3-8B-Instruct and CLIP-ViT-Large-patch14-336 (MLP projector); ShareGPT4V-PT pretraining, '
      + 'InternVL-SFT fine-tuning (XTuner)',
    sources: { huggingface: 'xtuner/llava-llama-3-8b-v1_1' },
    // xtuner's own GGUF repo: the LLM in two precisions, plus the vision projector llava-llama-3-8b-v1_1-mmproj-f16.gguf.
    gguf: {
      huggingface: {
        repo: 'xtuner/llava-llama-3-8b-v1_1-gguf',
        files: { F16: 'llava-llama-3-8b-v1_1-f16.gguf', INT4: 'llava-llama-3-8b-v1_1-int4.gguf' },
      },
    },
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: 'The linked repo is in XTuner\'s LLaVA format (xtuner/llava-llama-3-8b-v1_1-transformers is the transformers one). '
      + 'Images need the projector llava-llama-3-8b-v1_1-mmproj-f16.gguf from the GGUF repo; text chat in llama3-zh uses the LLM only.',
    pullable: true,
  },
  {
    name: 'cogvlm2-llama3',
    title: 'v-llama3 多模态版 视频理解（CogVLM2，可支持 1 分钟内视频问答）',
    publisher: 'THUDM',
    family: 'Llama-3',
    size: '19B',
    kind: ['multimodal'],
    sources: { github: 'https://github.com/THUDM/CogVLM2' },
    // cogvlm2-llama3-chat-19B's tokenizer_config.json template is Meta's Llama-3 format.
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: 'GitHub only in the README; THUDM publishes the weights on Hugging Face and ModelScope (e.g. THUDM/cogvlm2-llama3-chat-19B). '
      + 'Its own architecture (a vision expert in every layer): llama.cpp cannot load it.',
    pullable: false,
  },

  // ── agent and domain ───────────────────────────────────────────────────────────────────────────
  {
    name: 'llama3-8b-agent-zh',
    title: 'agent工具能力增强版 ModelScope Chinese Agent版V1',
    publisher: 'ModelScope',
    family: 'Llama-3',
    size: '8B',
    kind: ['instruct+SFT', 'agent'],
    recipe: 'LoRA rank 8, alpha 32 on all linear layers of Llama-3-8B-Instruct, lr 5e-5, 2 epochs, max length 2048 (ms-swift); '
      + 'data COIG-CQIA, ms-agent-for-agentfabric, alpaca-gpt4-en, ms-bench; ReAct-style tool calls (model card)',
    // The same model is on Hugging Face under the "modelscope" organisation; its card loads it as swift/Llama3-Chinese-8B-Instruct-Agent-v1.
    sources: { modelscope: 'swift/Llama3-Chinese-8B-Instruct-Agent-v1', huggingface: 'modelscope/Llama3-Chinese-8B-Instruct-Agent-v1' },
    // A community GGUF conversion on Hugging Face (file names from its file list).
    gguf: {
      huggingface: {
        repo: 'mradermacher/Llama3-Chinese-8B-Instruct-Agent-v1-GGUF',
        files: { Q4_K_M: 'Llama3-Chinese-8B-Instruct-Agent-v1.Q4_K_M.gguf', Q5_K_M: 'Llama3-Chinese-8B-Instruct-Agent-v1.Q5_K_M.gguf' },
      },
    },
    // Trained by ms-swift as model_type llama3-8b-instruct: Meta's format.
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: 'Chooses tools on request (ReAct format), Chinese dialogue; made for ModelScope-Agent.',
    pullable: true,
  },
  {
    name: 'emollm-llama3-8b',
    title: 'EmoLLM 心理领域数据微调版 EmoLLM-Llama3-8B-Instruct3.0',
    publisher: 'EmoLLM',
    family: 'Llama-3',
    size: '8B',
    kind: ['instruct+SFT', 'domain'],
    sources: {
      modelscope: 'chg0901/EmoLLM-Llama3-8B-Instruct3.0',
      openxlab: 'https://openxlab.org.cn/models/detail/chg0901/EmoLLM-Llama3-8B-Instruct3.0',
    },
    template: 'llama3',
    stop: EOT,
    contextLength: L3,
    notes: 'Mental-health counselling. Online demo: https://openxlab.org.cn/apps/detail/chg0901/EmoLLM-Llama3-8B-Instruct3.0',
    pullable: true,
  },
];

const byName = new Map(CATALOG.map((m) => [m.name, m]));

/** Every hub repo a model is reachable under: weights and GGUF repos, both hubs. */
export function modelRepos(m: CatalogModel): string[] {
  const repos: string[] = [];
  for (const hub of HUB_IDS) {
    if (m.sources[hub]) repos.push(m.sources[hub]!);
    if (m.gguf?.[hub]) repos.push(m.gguf[hub]!.repo);
  }
  return [...new Set(repos)];
}

/** Hubs pull can fetch this model from (weights or GGUF). */
export function modelHubs(m: CatalogModel): HubId[] {
  return HUB_IDS.filter((hub) => m.sources[hub] || m.gguf?.[hub]);
}

/** The web page of a repo on a hub. */
export function hubUrl(hub: HubId, repo: string): string {
  return hub === 'huggingface' ? `https://huggingface.co/${repo}` : `https://modelscope.cn/models/${repo}`;
}

/** A catalog model by CLI name, or by any of its hub repo ids (weights or GGUF), case-insensitively. */
export function findModel(nameOrRepo: string): CatalogModel | undefined {
  const q = nameOrRepo.trim().toLowerCase();
  const named = byName.get(q);
  if (named) return named;
  return CATALOG.find((m) => modelRepos(m).some((r) => r.toLowerCase() === q));
}
